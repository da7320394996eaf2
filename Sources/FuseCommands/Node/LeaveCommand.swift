import ArgumentParser
import Foundation
import FuseAgent
import FuseModel
import FuseSystem

struct LeaveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leave",
        abstract: "Leave the federation: deregister, stop the agent and remove everything FUSE created on this host.")

    @OptionGroup var options: GlobalOptions

    @Flag(help: "Leave even when the master cannot be reached (it keeps the node until `fuse node remove`).")
    var force = false

    func run() async throws {
        try await Console.run {
            guard !options.masterState.exists else { throw CommandFailure("this is the federation's master: use `fuse master destroy`") }
            let config = try options.nodeState.loadConfig()
            let caPEM = try? options.nodeState.caPEM()
            try Preconditions.root()
            // The node's daemon does the leave (and then exits); it is started if it was not running.
            let started = ContinuousClock.now
            let result: LocalAPI.LeaveResult
            do {
                let (answer, pid) = try await NodeDaemons.run(options, "/leave", body: LocalAPI.LeaveRequest(force: force), timeout: .seconds(300),
                                                              as: LocalAPI.LeaveResult.self)
                await NodeDaemons.waitForExit(pid)
                result = answer
            } catch ClientError.unreachable(let message) {
                // The answer was lost; what the daemon did is still there to see.
                guard let outcome = await Self.outcome(config, caPEM: caPEM, options: options, since: started) else { throw CommandFailure(message) }
                result = outcome
            }
            try DaemonUnits.agent(options).remove()
            if options.json { return Console.json(result) }
            print(String(format: "%@ left the federation in %.2f s%@; nothing of FUSE is left on this host", result.node, result.seconds,
                         result.deregistered ? "" : " (the master was unreachable: remove the node there with `fuse node remove \(result.node)`)"))
        }
    }

    /// After a lost answer: the leave happened if the host holds no node any more; it was
    /// deregistered if the master refuses the node's credential.
    static func outcome(_ config: NodeConfig, caPEM: String?, options: GlobalOptions, since start: ContinuousClock.Instant) async -> LocalAPI.LeaveResult? {
        guard await waitFor(.seconds(10), { !options.nodeState.exists }) else { return nil }
        var deregistered = false
        if let caPEM, let client = try? ControlPlaneClient(host: config.masterHost, port: config.apiPort, caPEM: caPEM, credential: config.credential) {
            deregistered = (try? await ControlPlaneClient.using(client) { try await $0.map(since: 0, wait: 0) }) == nil
        }
        return LocalAPI.LeaveResult(node: config.name, deregistered: deregistered, tasksLeftRunning: nil, seconds: (ContinuousClock.now - start).inSeconds)
    }
}
