import Foundation
import FuseModel
import FuseSystem
import Logging

/// The node's part in the federation's Swarm.
public enum SwarmRole: Sendable {
    /// The master: initialises the Swarm (overlay networks from `overlayPool`) and runs the
    /// image registry.
    case manager(overlayPool: IPv4CIDR)
    /// Every other node: joins with the token the control plane hands out.
    case worker
}

/// Keeps the node's own container engine running and in the federation's Swarm, over the
/// node's VPN address. Each step is skipped when it is already done, so calling `ensure` again
/// is cheap.
actor WorkloadSupervisor {
    let config: NodeConfig
    let state: NodeState
    let role: SwarmRole
    let source: any MapSource
    let host: any HostPlane
    let logger: Logger
    let engine: DockerEngine
    private var reportedSwarmID: String?

    init(config: NodeConfig, state: NodeState, role: SwarmRole, source: any MapSource, host: any HostPlane, logger: Logger) {
        self.config = config
        self.state = state
        self.role = role
        self.source = source
        self.host = host
        self.logger = logger
        self.engine = state.engine(interface: config.interface)
    }

    /// Engine up, in the Swarm and labelled (and on the master: the registry up). Throws what
    /// is missing.
    func ensure(_ map: NetworkMap) async throws {
        guard let subnet = map.node.engineSubnet.map(EngineSubnet.init) else { return }
        // A ready node (checked every few seconds): one question to its engine.
        let engine = self.engine
        if let id = reportedSwarmID, try await BlockingWork.run({ engine.isRunning && (try? engine.cli.swarmState()).map { $0.state == "active" && $0.nodeID == id } == true }) {
            return try await ensureRegistry(map)
        }
        // An agent that is stopping starts nothing (its engine may be going down with it).
        try Task.checkCancellation()
        if let pid = try await host.ensureEngine(subnet, interface: config.interface, insecureRegistry: SwarmPorts.registryHost(master: map.masterAddress)) {
            logger.info("started the node's engine", metadata: ["pid": "\(pid)", "subnet": "\(subnet.subnet)"])
        }
        var swarm = try await BlockingWork.run {
            let swarm = try engine.cli.swarmState()
            guard swarm.state == "error" || swarm.state == "pending" else { return swarm }
            _ = try? engine.cli.run(["swarm", "leave", "--force"])
            return try engine.cli.swarmState()
        }
        if swarm.state != "active" {
            try await enterSwarm(engine.cli, address: map.node.address)
            swarm = try await BlockingWork.run { try engine.cli.swarmState() }
            guard swarm.state == "active" else { throw SystemError("the engine's Swarm state is \(swarm.state) after joining") }
        }
        if let id = swarm.nodeID, id != reportedSwarmID {
            try await source.swarmJoined(id: id)
            reportedSwarmID = id
            logger.info("engine is in the federation's Swarm", metadata: ["swarm": "\(id)"])
        }
        try await ensureRegistry(map)
    }

    /// On the master, the image registry.
    private func ensureRegistry(_ map: NetworkMap) async throws {
        guard case .manager = role else { return }
        try Task.checkCancellation()
        let registry = state.registry(master: map.masterAddress)
        let started = try await BlockingWork.run { try registry.ensureRunning() }
        if !started.isEmpty {
            logger.info("started the image registry", metadata: ["pids": "\(started)", "pull": "\(registry.pullAddress)", "push": "\(registry.pushAddress)"])
        }
    }

    private func enterSwarm(_ cli: DockerCLI, address: IPv4Address) async throws {
        switch role {
        case .manager(let pool):
            let addressing = ["--advertise-addr", address.description, "--listen-addr", "\(address):\(SwarmPorts.manager)",
                              "--data-path-addr", address.description]
            try await BlockingWork.run {
                try cli.run(["swarm", "init"] + addressing + ["--data-path-port", String(SwarmPorts.dataPath),
                             "--default-addr-pool", pool.description, "--default-addr-pool-mask-length", String(EngineSubnet.prefixLength)])
                // No routing mesh in a federation (no IPVS; ports are published in host mode):
                // without the ingress network no node sets it up.
                _ = try? cli.result(["network", "rm", "ingress"], input: "y\n")
            }
            logger.info("initialised the federation's Swarm")
        case .worker:
            try await EngineAPI.joinSwarm(socket: cli.socket, join: try await source.swarmJoin(), address: address)
        }
    }
}

extension NodeState {
    /// Where containerd puts its shims' sockets, whoever started it (machine-wide).
    static let containerdRunDirectory = "/run/containerd"

    public var engineDataRoot: String { directory + "/engine" }
    public var registryDirectory: String { directory + "/registry" }

    public func engine(interface: String) -> DockerEngine {
        DockerEngine(names: EngineNames(interface: interface), dataRoot: engineDataRoot)
    }

    public func registry(master: IPv4Address) -> ImageRegistry {
        ImageRegistry(directory: registryDirectory, pullAddress: SwarmPorts.registryHost(master: master))
    }
}
