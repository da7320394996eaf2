import ArgumentParser
import Foundation
import FuseAgent
import FuseModel
import FuseSystem
import Logging

/// Starting the node's daemon for a thin command that needs it.
enum NodeDaemons {
    /// The daemon's client and PID; starts the daemon in the background when none answers.
    static func ensureRunning(_ options: GlobalOptions) async throws -> (client: LocalClient, pid: pid_t?) {
        let state = options.nodeState
        let client = state.localClient
        if await client.isAnswering() { return (client, state.pid(at: state.agentPIDPath)) }
        try state.createDirectory()
        let pid = try Daemon.spawn([Executables.current, "agent", "run", "--state-dir", options.stateDir] + (options.debug ? ["--debug"] : []),
                                   logFile: state.agentLogPath)
        // Another command may have started the state dir's daemon at the same moment: ours then
        // exits (the lock is taken) and that one answers.
        var diedAt: ContinuousClock.Instant?
        let answering = await waitFor(.seconds(15), every: .milliseconds(10)) {
            if await client.isAnswering() { return true }
            if !Daemon.isAlive(pid) { diedAt = diedAt ?? .now }
            return diedAt.map { ContinuousClock.now - $0 > .seconds(2) } ?? false
        }
        if answering, await client.isAnswering() { return (client, state.pid(at: state.agentPIDPath) ?? pid) }
        throw CommandFailure("the node's agent did not start: \(Daemon.lastLine(of: state.agentLogPath) ?? "see \(state.agentLogPath)")")
    }

    /// After a leave or a failed join the daemon has nothing left to own and exits: the command
    /// returns once it is gone, so that nothing of FUSE is left when it does.
    static func waitForExit(_ pid: pid_t?) async {
        guard let pid else { return }
        _ = await waitFor(.seconds(10), every: .milliseconds(10)) { !Daemon.isAlive(pid) }
    }

    /// Runs a long operation on the daemon, printing its steps (unless `--json`).
    static func run<Result: Decodable>(_ options: GlobalOptions, _ path: String, body: some Encodable, timeout: Duration,
                                       as type: Result.Type) async throws -> (result: Result, pid: pid_t?) {
        let (client, pid) = try await ensureRunning(options)
        do {
            let result = try await client.stream(path, body: body, timeout: timeout, as: type) { event in
                if !options.json { Console.render(event) }
            }
            return (result, pid)
        } catch let error as ClientError where error.status != 409 && !options.nodeState.exists {
            // The daemon undid what it had begun and goes.
            await waitForExit(pid)
            throw error
        }
    }
}
