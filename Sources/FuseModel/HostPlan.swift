/// What a node's host should look like for one network map, computed without touching the
/// host: the WireGuard interface with its one address (and with it the route of the whole
/// range), its MTU and peers, the node's nftables table, whether IPv4 forwarding must be on,
/// and the node's engine. A `HostPlane` makes the host match it.
public struct HostPlan: Equatable, Sendable {
    public static let mtu = 1420

    public var interface: String
    /// `A.B.C.D/N`: the node's VPN address with the prefix of the federation's range.
    public var address: String
    public var mtu: Int
    /// The device as it should be configured (endpoints already resolved to `IP:port`).
    public var device: WireGuardDevice
    public var tableName: String
    /// The nftables table: loaded whole, or changed by set element when only addresses changed.
    public var ruleset: RenderedRuleset
    /// Why `net.ipv4.ip_forward` must be 1; nil when the node forwards nothing.
    public var forwarding: Forwarding?
    /// The node's engine (its subnet), when the node runs workloads.
    public var engine: EngineSubnet?
    /// Whether this is the hub (the master's node).
    public var isHub: Bool

    public enum Forwarding: String, Equatable, Sendable {
        /// The hub forwards between nodes.
        case hub
        /// The node forwards its containers' traffic.
        case workloads
        /// The node forwards to the LAN devices it exposes.
        case exposures
    }

    /// `relayEndpoint`: while a worker's path is the relay, the hub's endpoint is the relay's
    /// local socket (`127.0.0.1:PORT`) instead of the hub's address.
    public init(map: NetworkMap, interface: String, privateKey: WireGuardKey, listenPort: UInt16?, resolve: (String) -> String?,
                relayEndpoint: String? = nil) {
        self.interface = interface
        address = map.interfaceAddress
        mtu = Self.mtu
        device = WireGuardDevice(map: map, privateKey: privateKey, listenPort: listenPort, resolve: resolve)
        if let relayEndpoint, !map.isHub {
            for index in device.peers.indices where device.peers[index].endpoint != nil { device.peers[index].endpoint = relayEndpoint }
        }
        tableName = NodeRuleset.tableName(interface: interface)
        engine = map.node.engineSubnet.map(EngineSubnet.init)
        ruleset = NodeRuleset.render(interface: interface, cidr: map.cidr, address: map.node.address, firewall: map.firewall, isHub: map.isHub,
                                     containers: map.node.engineSubnet.map { ContainerEgress(engine: $0, names: EngineNames(interface: interface)) },
                                     probe: listenPort.map { ProbeRedirect(hubPort: $0, answerPort: map.apiPort) })
        isHub = map.isHub
        forwarding = map.isHub ? .hub : map.node.runsWorkloads ? .workloads : !map.firewall.exposures.isEmpty ? .exposures : nil
    }
}
