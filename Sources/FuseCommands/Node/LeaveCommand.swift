import ArgumentParser
import Foundation
import FuseAgent
import FuseModel
import Logging

struct LeaveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leave",
        abstract: "Leave the federation: deregister, stop the agent and remove everything FUSE created on this host.")

    @OptionGroup var options: GlobalOptions

    @Flag(help: "Leave even when the master cannot be reached (it keeps the node until `fuse node remove`).")
    var force = false

    func run() async throws {
        try await Console.run {
            let clock = StepClock(quiet: options.json)
            guard !options.masterState.exists else { throw CommandFailure("this is the federation's master: use `fuse master destroy`") }
            let state = options.nodeState
            let config = try state.loadConfig()
            try Preconditions.root()
            var deregistered = true
            var remaining: Int?
            do {
                let client = try ControlPlaneClient(host: config.masterHost, port: config.apiPort, caPEM: try state.caPEM(), credential: config.credential)
                try await Clients.with(client) { client in
                    if state.cachedMap()?.node.runsWorkloads == true {
                        clock.begin("draining: moving this node's tasks to other nodes")
                        remaining = try await client.drain()
                        clock.done(remaining == 0 ? "no task runs here any more" : "\(remaining ?? 0) task(s) still ran; they stop with the engine")
                    }
                    try await client.leave()
                }
            } catch let error as ClientError where error.isUnauthorized {
                // Already removed by the operator: nothing to deregister.
            } catch {
                guard force else { throw CommandFailure("\(Console.oneLine(error)); nothing was changed (use --force to leave anyway)") }
                deregistered = false
            }
            NodeTeardown(state: state).all(interface: config.interface)
            if options.json {
                Console.json(LeaveResult(node: config.name, deregistered: deregistered, tasksLeftRunning: remaining, seconds: clock.total))
            } else {
                print(String(format: "%@ left the federation in %.2f s%@; nothing of FUSE is left on this host", config.name, clock.total,
                             deregistered ? "" : " (the master was unreachable: remove the node there with `fuse node remove \(config.name)`)"))
            }
        }
    }

    struct LeaveResult: Encodable {
        let node: String
        let deregistered: Bool
        let tasksLeftRunning: Int?
        let seconds: Double
    }
}

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "The node agent.",
        subcommands: [AgentRun.self])
}

struct AgentRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the node's agent in the foreground (`fuse join` starts it in the background).")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await Console.run {
            guard !options.masterState.exists else { throw CommandFailure("this is the federation's master: use `fuse master start`") }
            let state = options.nodeState
            let config = try state.loadConfig()
            try Preconditions.root()
            LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
            let client = try ControlPlaneClient(host: config.masterHost, port: config.apiPort, caPEM: try state.caPEM(), credential: config.credential)
            let agent = try Agent(state: state, source: RemoteMapSource(client: client), logger: options.logger("fuse.agent", daemon: true))
            do {
                try await agent.run()
            } catch {
                await client.shutdown()
                throw error
            }
            await client.shutdown()
        }
    }
}
