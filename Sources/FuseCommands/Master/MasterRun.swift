import ArgumentParser
import Foundation
import FuseAgent
import FuseControl
import FuseModel
import FuseSystem
import Logging
import ServiceLifecycle

/// The master process: control plane + the master's own agent, in the foreground.
struct MasterRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the control plane and the master's node in the foreground (for systemd and tests).")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await Console.run {
            let state = options.masterState
            let config = try state.loadConfig()
            try Preconditions.root()
            LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
            let logger = options.logger("fuse.master", daemon: true)
            let store = try SQLiteFederationStore(path: state.databasePath)
            let swarm = config.engineCIDR == nil ? nil : EngineSwarmControl(cli: options.nodeState.engine(interface: config.interface).cli)
            let stacks = config.engineCIDR == nil ? nil : SwarmStacks(cli: options.nodeState.engine(interface: config.interface).cli)
            let controlPlane = try ControlPlane(config: config, store: store, caPEM: try state.caPEM(), caPin: try state.caPin(), logger: logger, swarm: swarm)
            controlPlane.hubEndpoints.persist(at: state.hubEndpointsPath)
            try StateFile.write(text: "\(getpid())\n", to: state.pidPath)
            let agent = try Agent(state: options.nodeState, source: LocalMapSource(controlPlane: controlPlane, node: config.nodeName),
                                  logger: options.logger("fuse.agent", daemon: true), role: .manager(overlayPool: config.overlayCIDR ?? config.cidr),
                                  logDirectories: [state.directory])
            logger.info("control plane starting", metadata: ["port": "\(config.apiPort)", "federation": "\(config.federation)"])
            try await MasterServer.run(state: state, controlPlane: controlPlane, services: [
                AgentService(agent: agent), LongPollCloser(controlPlane: controlPlane),
                DNSService(controlPlane: controlPlane, address: config.cidr.firstHost?.description ?? "127.0.0.1", logger: logger),
                LocalAPIService(socket: options.nodeState.agentSocketPath, handler: MasterLocalAPI(agent: agent), logger: logger),
                FederationMonitor(controlPlane: controlPlane, interface: config.interface, tasks: { try stacks?.tasks() ?? [] }),
            ], logger: logger) {}
        }
    }
}

/// The master's agent takes its map straight from the control plane in the same process.
struct LocalMapSource: MapSource {
    let controlPlane: ControlPlane
    let node: String

    /// At most 2 s apart even without a new version: the hub's map also carries where its
    /// workers were last seen (`HubEndpoints`, not versioned), which a hub restarted after a
    /// crash of its wireguard-go, or started from a cached map after a reboot, needs at once.
    func map(since: Int64, wait: Int) async throws -> NetworkMap {
        try await controlPlane.map(for: node, since: since, wait: .seconds(min(wait, 2)))
    }

    func heartbeat(_ beat: API.Heartbeat) async throws {
        await controlPlane.heartbeat(node, appliedVersion: beat.mapVersion)
    }

    func applied(version: Int64) async {
        await controlPlane.hubApplied(version: version)
    }

    func swarmJoin() async throws -> SwarmJoin {
        throw CommandFailure("the master initialises the Swarm; it does not join one")
    }

    func swarmJoined(id: String) async throws {
        try controlPlane.swarmJoined(node: node, id: id)
    }
}

/// Answers `NAME.DOMAIN.fuse` on the master's VPN address, port 53, once the hub has it.
struct DNSService: Service {
    let controlPlane: ControlPlane
    let address: String
    let logger: Logger

    func run() async throws {
        let responder = DNSResponder(host: address, port: 53, resolve: { controlPlane.resolve($0) })
        do {
            try await cancelWhenGracefulShutdown {
                var logged = false
                while !Task.isCancelled {
                    do {
                        try await responder.run { _ in logger.info("DNS responder listening", metadata: ["address": "\(address):53"]) }
                        return
                    } catch {
                        // The hub's address appears when the agent has configured the interface.
                        if !logged { logger.debug("DNS responder waiting for \(address)", metadata: ["error": "\(error)"]) }
                        logged = true
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
            }
        } catch is CancellationError {}
    }
}

/// On shutdown, ends the long-polls so that the server stops at once.
struct LongPollCloser: Service {
    let controlPlane: ControlPlane

    func run() async throws {
        try? await gracefulShutdown()
        await controlPlane.closeLongPolls()
    }
}

struct AgentService: Service {
    let agent: Agent

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await agent.run() }
        } catch is CancellationError {}
    }
}

/// The master's own node on the local API: `fuse status` and `fuse master start` read it there,
/// as on every node. Joining and leaving are not the master's.
struct MasterLocalAPI: LocalAPIHandler {
    let agent: Agent

    func status() async -> AgentStatus? { await agent.status() }

    func join(_ request: LocalAPI.JoinRequest, steps: Steps) async throws -> LocalAPI.JoinResult {
        throw LocalAPIError(409, "this is the federation's master; nodes join it with a token (`fuse token create`)")
    }

    func leave(_ request: LocalAPI.LeaveRequest, steps: Steps) async throws -> LocalAPI.LeaveResult {
        throw LocalAPIError(409, "this is the federation's master: use `fuse master destroy`")
    }

    func expose(_ request: API.ExposeRequest) async throws -> Exposure {
        throw LocalAPIError(409, "on the master, `fuse expose` uses the operator's credential")
    }

    func unexpose(_ name: String) async throws {
        throw LocalAPIError(409, "on the master, `fuse unexpose` uses the operator's credential")
    }

    func delivered() async {}
}

struct LocalAPIService: Service {
    let socket: String
    let handler: any LocalAPIHandler
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await LocalAPIServer.run(socket: socket, handler: handler, logger: logger) }
        } catch is CancellationError {}
    }
}
