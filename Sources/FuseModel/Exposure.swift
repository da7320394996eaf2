/// Transport protocols that policies and exposures speak of.
public enum FlowProtocol: String, Codable, Sendable, CaseIterable {
    case tcp, udp, icmp
}

/// One service of a non-federated device in a node's LAN, published to the federation at the
/// node's VPN address and `port`.
public struct Exposure: Codable, Hashable, Sendable {
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

    /// The order in which the store lists exposures: by node (as stored), port, then name.
    public static func storeOrder(_ a: Exposure, _ b: Exposure) -> Bool {
        (a.node, a.port, a.name) < (b.node, b.port, b.name)
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
public struct ExposureRule: Codable, Hashable, Sendable {
    public let exposure: Exposure
    public let sources: [IPv4Address]

    public init(exposure: Exposure, sources: [IPv4Address]) {
        self.exposure = exposure
        self.sources = sources
    }
}

/// A flow the hub forwards between nodes: from any of `flow.sources` to any of `destinations`
/// (one nftables rule with two sets).
public struct ForwardFlow: Codable, Equatable, Hashable, Sendable {
    public let destinations: [IPv4Address]
    public let flow: AllowedFlow

    public init(destinations: [IPv4Address], flow: AllowedFlow) {
        self.destinations = destinations
        self.flow = flow
    }

    /// Whether the hub forwards `proto` to `port` (nil: a port-less probe, ICMP) from `source` to `destination`.
    public func allows(source: IPv4Address, destination: IPv4Address, proto: FlowProtocol, port: UInt16?) -> Bool {
        flow.proto == proto && (flow.port == nil || flow.port == port) && flow.sources.contains(source) && destinations.contains(destination)
    }
}

/// What one node enforces, computed by the master from the policy: everything not listed is
/// dropped on the node's WireGuard interface.
public struct NodeFirewall: Codable, Hashable, Sendable {
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

/// Which addresses an exposure may publish: a unicast device of the exposing node's LAN, never
/// something that would open the node itself or the federation (loopback, the unspecified or a
/// broadcast address, multicast, link-local, the node's own addresses, the VPN, engine or
/// overlay ranges).
public enum ExposureTarget {
    public struct Refused: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    static let special: [(IPv4CIDR, String)] = [
        ("0.0.0.0/8", "an unspecified (\"this network\") address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved or broadcast address"),
    ].compactMap { text, what in (try? IPv4CIDR(parsing: text)).map { ($0, what) } }

    /// Checks `target` for a node.
    /// - Parameters:
    ///   - federationRanges: The VPN range and the engine and overlay ranges, by name.
    ///   - ownAddresses: Addresses of the exposing node itself.
    ///   - lan: The node's LAN subnets, when known (on the node); the target must be a host of one.
    public static func check(_ target: IPv4Address, federationRanges: [(name: String, range: IPv4CIDR)],
                             ownAddresses: [IPv4Address], lan: [IPv4CIDR]? = nil) throws {
        func refuse(_ reason: String) -> Refused {
            Refused(description: "target \(target) is \(reason); an exposure publishes one device of the node's LAN")
        }
        if let (_, what) = special.first(where: { $0.0.contains(target) }) { throw refuse(what) }
        if let (name, range) = federationRanges.first(where: { $0.range.contains(target) }) {
            throw refuse("in the federation's \(name) range \(range)")
        }
        if ownAddresses.contains(target) { throw refuse("an address of the node itself") }
        guard let lan else { return }
        guard let subnet = lan.first(where: { $0.contains(target) }) else {
            let subnets = lan.isEmpty ? "none" : lan.map(\.description).joined(separator: ", ")
            throw refuse("not in the node's LAN (\(subnets))")
        }
        if subnet.prefixLength <= 30, target == subnet.network || target == subnet.broadcast {
            throw refuse("the \(target == subnet.network ? "network" : "broadcast") address of \(subnet)")
        }
    }
}
