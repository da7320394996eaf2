import Foundation
import FuseModel
import FuseSystem
import Logging

/// Makes the host match a network map: wireguard-go running, its peers, the interface address
/// (and with it the route of the whole range), the node's nftables table and, on the hub,
/// IP forwarding. Applying the same map twice changes nothing the second time.
public actor Reconciler {
    public static let mtu = 1420

    let config: NodeConfig
    let state: NodeState
    private var backend: (any WireGuardBackend)?
    let network: HostNetwork
    let runner: any CommandRunning
    let logger: Logger
    private var appliedRuleset: String?

    public init(config: NodeConfig, state: NodeState, runner: any CommandRunning = HostCommandRunner(), logger: Logger) {
        self.config = config
        self.state = state
        self.network = HostNetwork(runner: runner)
        self.runner = runner
        self.logger = logger
    }

    /// Records what FUSE changed on the host (so that leave undoes exactly that). A full disk
    /// does not stop the host from converging: the failure is logged loudly, and the change made.
    func record(_ changes: HostChanges) {
        do { try StateFile.write(changes, to: state.hostChangesPath) } catch {
            logger.error("cannot record the host's changes; leave may not restore them", metadata: ["error": "\(error)"])
        }
    }

    /// Applies `map`; returns the device as WireGuard reports it afterwards.
    @discardableResult
    public func apply(_ map: NetworkMap) throws -> WireGuardDevice {
        var changes = state.hostChanges()
        if !FileManager.default.fileExists(atPath: UAPISocket.directory) {
            changes.createdRunDirectory = true
            record(changes)
        }
        let wireGuard = try backend ?? WireGuardBackends.choose(interface: config.interface, runner: runner)
        backend = wireGuard
        if let pid = try wireGuard.ensureRunning(logFile: state.wireGuardLogPath) {
            do { try StateFile.write(text: "\(pid)\n", to: state.wireGuardPIDPath) } catch {
                logger.error("cannot record wireguard-go's PID; going on", metadata: ["error": "\(error)"])
            }
            logger.info("started wireguard-go", metadata: ["interface": "\(config.interface)", "pid": "\(pid)"])
            appliedRuleset = nil
        }
        // The link goes up before the peers are set: a handshake that wireguard-go starts while
        // its device is down is lost, and WireGuard retries only after 5 s.
        try network.configure(link: config.interface, address: map.interfaceAddress, mtu: Self.mtu)
        let desired = WireGuardDevice(map: map, privateKey: config.privateKey, listenPort: config.listenPort, resolve: EndpointResolver.resolve)
        var current = try wireGuard.read()
        if try wireGuard.apply(desired: desired, current: current) {
            logger.info("configured WireGuard peers", metadata: ["version": "\(map.version)", "peers": "\(desired.peers.count)"])
            current = try wireGuard.read()
        }
        // The hub forwards between nodes; a node with exposures forwards to its LAN devices, one
        // with workloads its containers' traffic.
        if map.isHub || !map.firewall.exposures.isEmpty || map.node.runsWorkloads {
            let sysctl = Sysctl()
            let forwarding = try sysctl.get("net.ipv4.ip_forward")
            if forwarding != "1" {
                changes.ipForwardBefore = forwarding
                record(changes)
                try sysctl.set("net.ipv4.ip_forward", "1")
                logger.info("enabled IPv4 forwarding", metadata: ["why": "\(map.isHub ? "hub" : map.node.runsWorkloads ? "workloads" : "exposures")"])
            }
        }
        let ruleset = NodeRuleset.render(interface: config.interface, cidr: map.cidr, address: map.node.address,
                                         firewall: map.firewall, isHub: map.isHub,
                                         containers: map.node.engineSubnet.map { ContainerEgress(engine: $0, names: EngineNames(interface: config.interface)) })
        let table = NodeRuleset.tableName(interface: config.interface)
        if ruleset != appliedRuleset || !runner.succeeds(["nft", "list", "table", "inet", table]) {
            try runner.check(["nft", "-f", "-"], input: ruleset)
            appliedRuleset = ruleset
        }
        return current
    }
}
