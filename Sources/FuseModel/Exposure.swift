/// Transport protocols that policies and exposures speak of.
public enum FlowProtocol: String, Codable, Sendable, CaseIterable {
    case tcp, udp, icmp
}

/// One service of a non-federated device in a node's LAN, published to the federation at the
/// node's VPN address and `port`.
public struct Exposure: Codable, Equatable, Sendable {
    /// Unique in the federation; also the DNS name `NAME.DOMAIN.fuse`.
    public let name: String
    public let node: String
    public let domain: String
    public let proto: FlowProtocol
    /// The port at the node's VPN address.
    public let port: UInt16
    public let target: IPv4Address
    public let targetPort: UInt16

    public init(name: String, node: String, domain: String, proto: FlowProtocol, port: UInt16, target: IPv4Address, targetPort: UInt16) {
        self.name = name
        self.node = node
        self.domain = domain
        self.proto = proto
        self.port = port
        self.target = target
        self.targetPort = targetPort
    }
}

/// A permitted flow into one address: from `sources`, with `proto`, to `port` (nil = any port;
/// always nil for ICMP, which means echo requests).
public struct AllowedFlow: Codable, Equatable, Hashable, Sendable {
    public let sources: [IPv4Address]
    public let proto: FlowProtocol
    public let port: UInt16?

    public init(sources: [IPv4Address], proto: FlowProtocol, port: UInt16?) {
        self.sources = sources
        self.proto = proto
        self.port = port
    }
}

/// An exposure as the exposing node enforces it: DNAT from its VPN address and `port` to the
/// target, for the allowed sources only.
public struct ExposureRule: Codable, Equatable, Sendable {
    public let exposure: Exposure
    public let sources: [IPv4Address]

    public init(exposure: Exposure, sources: [IPv4Address]) {
        self.exposure = exposure
        self.sources = sources
    }
}

/// A flow the hub forwards between two nodes.
public struct ForwardFlow: Codable, Equatable, Hashable, Sendable {
    public let destination: IPv4Address
    public let flow: AllowedFlow

    public init(destination: IPv4Address, flow: AllowedFlow) {
        self.destination = destination
        self.flow = flow
    }
}

/// What one node enforces, computed by the master from the policy: everything not listed is
/// dropped on the node's WireGuard interface.
public struct NodeFirewall: Codable, Equatable, Sendable {
    /// Flows into the node itself (its local ports, ICMP echo).
    public var inbound: [AllowedFlow]
    /// The node's own exposures.
    public var exposures: [ExposureRule]
    /// Hub only: flows forwarded from one node to another.
    public var forward: [ForwardFlow]

    public init(inbound: [AllowedFlow] = [], exposures: [ExposureRule] = [], forward: [ForwardFlow] = []) {
        self.inbound = inbound
        self.exposures = exposures
        self.forward = forward
    }
}
