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
            let logger = options.logger("fuse.agent", daemon: true)
            try await NodeDaemon(state: options.nodeState, host: LinuxHostPlane(state: options.nodeState, logger: logger), logger: logger).run()
        }
    }
}
