import Foundation
import FuseAgent
import FuseControl
import FuseModel
import FuseSystem
import Logging
import ServiceLifecycle

/// The master process (`fuse master run`): the control plane's HTTPS API, and the master's own
/// node — the WireGuard hub, its engine as the Swarm manager, the registry — taking its map
/// straight from the control plane; beside them the DNS responder, the local API and the
/// dashboard's monitor. Runs until SIGTERM or SIGINT, or until its task is cancelled.
public struct MasterProcess: Sendable {
    public struct Options: Sendable {
        /// Where the API listens (all addresses on a real master; loopback in tests).
        public var listenAddress = "0.0.0.0"
        /// The DNS responder on the master's VPN address (port 53: needs root).
        public var dns = true
        /// The dashboard's monitor (reads the hub's counters, pings nodes over the tunnel).
        public var monitor = true
        public var repairInterval: Duration = .seconds(5)
        public init() {}
    }

    let state: MasterState
    let nodeState: NodeState
    let host: any HostPlane
    let logger: Logger
    let agentLogger: Logger
    let options: Options

    public init(state: MasterState, nodeState: NodeState, host: any HostPlane, logger: Logger, agentLogger: Logger, options: Options = Options()) {
        self.state = state
        self.nodeState = nodeState
        self.host = host
        self.logger = logger
        self.agentLogger = agentLogger
        self.options = options
    }

    public func run() async throws {
        let config = try state.loadConfig()
        let store = try SQLiteFederationStore(path: state.databasePath)
        let engine = config.engineCIDR == nil ? nil : nodeState.engine(interface: config.interface).cli
        let workloads = engine.flatMap { engine in
            config.cidr.firstHost.map {
                EngineWorkloads(cli: engine, registry: SwarmPorts.registryHost(master: $0), uploadDirectory: nodeState.directory + "/uploads")
            }
        }
        let controlPlane = try ControlPlane(config: config, store: store, caPEM: try state.caPEM(), caPin: try state.caPin(), logger: logger,
                                            swarm: engine.map { EngineSwarmControl(cli: $0) }, workloads: workloads)
        controlPlane.hubEndpoints.persist(at: state.hubEndpointsPath)
        controlPlane.persistSettings(in: state)
        try StateFile.write(text: "\(getpid())\n", to: state.pidPath)
        let agent = try Agent(state: nodeState, source: LocalMapSource(controlPlane: controlPlane, node: config.nodeName), host: host,
                              logger: agentLogger, role: .manager(overlayPool: config.overlayCIDR ?? config.cidr),
                              repairInterval: options.repairInterval, logDirectories: [state.directory])
        // The hub carries its peers (at their last endpoints) before the API answers: a worker
        // that hears the control plane again re-handshakes at once and must find it ready.
        await agent.restoreFromCache()
        var services: [any Service] = [
            AgentService(agent: agent), LongPollCloser(controlPlane: controlPlane),
            LocalAPIService(socket: nodeState.agentSocketPath, handler: MasterLocalAPI(agent: agent), logger: logger),
            ProbeService(host: options.listenAddress, port: Int(config.apiPort), logger: logger),
        ]
        if options.dns {
            services.append(DNSService(controlPlane: controlPlane, address: config.cidr.firstHost?.description ?? "127.0.0.1", logger: logger))
        }
        if options.monitor {
            services.append(FederationMonitor(controlPlane: controlPlane, interface: config.interface, tasks: { try workloads?.stacksOnManager.tasks() ?? [] }))
        }
        logger.info("control plane starting", metadata: ["port": "\(config.apiPort)", "federation": "\(config.federation)"])
        try await MasterServer.run(state: state, controlPlane: controlPlane, services: services, logger: logger,
                                   listenAddress: options.listenAddress) {}
    }
}
