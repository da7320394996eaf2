import ArgumentParser
import Foundation
import FuseAgent
import FuseModel
import FuseSystem
import Logging

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "The node daemon.",
        subcommands: [AgentRun.self])
}

struct AgentRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the node daemon in the foreground (`fuse join` starts it in the background; systemd can run it).",
        discussion: """
            The daemon is the one process that changes this host for FUSE: it enrols, reconciles the host \
            to the federation's network map, and removes everything on leave. It serves `fuse join`, \
            `leave`, `status`, `expose` and `unexpose` on a root-only unix socket in the state dir \
            (docs/local-api.md). One daemon per state dir.
            """)

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await Console.run {
            guard !options.masterState.exists else { throw CommandFailure("this is the federation's master: use `fuse master start`") }
            try Preconditions.root()
            LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
            try await NodeDaemon(state: options.nodeState, logger: options.logger("fuse.agent", daemon: true)).run()
        }
    }
}

/// Starting the node's daemon for a thin command that needs it.
enum NodeDaemons {
    /// The daemon's client; starts the daemon in the background when none answers.
    static func ensureRunning(_ options: GlobalOptions) async throws -> LocalClient {
        let state = options.nodeState
        let client = state.localClient
        if await client.isAnswering() { return client }
        try state.createDirectory()
        let pid = try Daemon.spawn([Executables.current, "agent", "run", "--state-dir", options.stateDir] + (options.debug ? ["--debug"] : []),
                                   logFile: state.agentLogPath)
        let answering = await waitFor(.seconds(15), every: .milliseconds(10)) { await client.isAnswering() || !Daemon.isAlive(pid) }
        if answering, await client.isAnswering() { return client }
        throw CommandFailure("the node's agent did not start: \(Daemon.lastLine(of: state.agentLogPath) ?? "see \(state.agentLogPath)")")
    }
}
