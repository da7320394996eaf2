/// The ports of the federation's container orchestration (Docker Swarm over the VPN addresses)
/// and of its image registry on the master.
public enum SwarmPorts {
    /// Swarm's manager API (TLS), on the master.
    public static let manager: UInt16 = 2377
    /// Gossip between engines (tcp and udp).
    public static let gossip: UInt16 = 7946
    /// The overlay's VXLAN data path. Not Docker's default 4789, so that the federation's
    /// Swarm never collides with a Swarm that the host's own Docker may run.
    public static let dataPath: UInt16 = 7789
    /// The image registry (HTTP inside the tunnel), on the master.
    public static let registry: UInt16 = 5000
}

/// Where a node's engine puts its containers: each node with workloads gets one subnet from the
/// federation's engine range (allocated by the master, so no two nodes collide). The first half
/// is the engine's default bridge, the second half its `docker_gwbridge` (the way out of the
/// overlay networks).
public struct EngineSubnet: Equatable, Sendable {
    public let subnet: IPv4CIDR
    /// Every node gets a /24.
    public static let prefixLength = 24

    public init(_ subnet: IPv4CIDR) { self.subnet = subnet }

    /// The default bridge's address with its prefix, e.g. `10.213.1.1/25`.
    public var bridgeAddress: String {
        "\(IPv4Address(subnet.network.value + 1))/\(subnet.prefixLength + 1)"
    }

    public var bridgeCIDR: IPv4CIDR { IPv4CIDR(network: subnet.network, prefixLength: subnet.prefixLength + 1) }

    /// The subnet of `docker_gwbridge`, e.g. `10.213.1.128/25`.
    public var gatewayBridgeCIDR: IPv4CIDR {
        IPv4CIDR(network: IPv4Address(subnet.network.value + (1 << UInt32(31 - subnet.prefixLength))), prefixLength: subnet.prefixLength + 1)
    }

    public enum AllocationError: Error, Equatable, CustomStringConvertible {
        case rangeTooSmall(IPv4CIDR)
        case exhausted(IPv4CIDR)
        public var description: String {
            switch self {
            case .rangeTooSmall(let range): "engine range \(range) is too small: it needs a prefix of /\(EngineSubnet.prefixLength) or shorter"
            case .exhausted(let range): "engine range \(range) is exhausted: every /\(EngineSubnet.prefixLength) is assigned to a node"
            }
        }
    }

    /// The lowest /24 of `range` that is not in `assigned`.
    public static func allocate(in range: IPv4CIDR, excluding assigned: Set<IPv4CIDR>) throws -> IPv4CIDR {
        guard range.prefixLength <= prefixLength else { throw AllocationError.rangeTooSmall(range) }
        let count = UInt32(1) << UInt32(prefixLength - range.prefixLength)
        let step = UInt32(1) << UInt32(32 - prefixLength)
        for index in 0..<count {
            let candidate = IPv4CIDR(network: IPv4Address(range.network.value + index * step), prefixLength: prefixLength)
            if !assigned.contains(candidate) { return candidate }
        }
        throw AllocationError.exhausted(range)
    }
}

/// The names of what a node's engine creates on the host, derived from the node's WireGuard
/// interface (unique per machine): links of at most 15 characters, a cgroup parent, and a short
/// run directory (unix socket paths are limited to 108 bytes).
public struct EngineNames: Equatable, Sendable {
    public let interface: String

    public init(interface: String) { self.interface = interface }

    private var stem: String { String(interface.prefix(13)) }
    /// The engine's default bridge.
    public var bridge: String { stem + "-d" }
    /// The bridge behind the engine's `docker_gwbridge` network.
    public var gatewayBridge: String { stem + "-g" }
    public var cgroupParent: String { "fuse-" + interface }
    public var runDirectory: String { "/run/fuse-engine/" + interface }
    public var socket: String { runDirectory + "/docker.sock" }
}

/// The Swarm facts a node needs to join, handed out over the authenticated API only.
public struct SwarmJoin: Codable, Equatable, Sendable {
    /// `MASTER_VPN_ADDRESS:2377`.
    public let manager: String
    public let token: String

    public init(manager: String, token: String) {
        self.manager = manager
        self.token = token
    }
}

extension SwarmPorts {
    /// `ADDRESS:5000`, as images and `--insecure-registry` name it.
    public static func registryHost(master: IPv4Address) -> String { "\(master):\(registry)" }

    /// Where the operator pushes: the master's loopback only (no node can reach it).
    public static let registryPushHost = "127.0.0.1:5001"
}

/// The federation's engine range (a /24 per node) and overlay pool (a /24 per deployment's
/// network), beside its VPN range.
public enum WorkloadRanges {
    public static let defaults = ["10.213.0.0/16", "10.214.0.0/16", "172.29.0.0/16", "172.30.0.0/16", "198.18.0.0/16", "198.19.0.0/16"]
        .map { try! IPv4CIDR(parsing: $0) }

    public struct RangeError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// The given ranges, checked (a /24 or larger; no overlap with each other or the VPN
    /// range), or else the first defaults that overlap nothing.
    public static func choose(vpn: IPv4CIDR, engine: IPv4CIDR?, overlay: IPv4CIDR?) throws -> (engine: IPv4CIDR, overlay: IPv4CIDR) {
        for (name, range) in [("--engine-cidr", engine), ("--overlay-cidr", overlay)] {
            if let range, range.prefixLength > EngineSubnet.prefixLength {
                throw RangeError(description: "bad \(name) \(range): it needs a prefix of /\(EngineSubnet.prefixLength) or shorter")
            }
        }
        var taken = [("--vpn-cidr", vpn)]
        func pick(_ given: IPv4CIDR?, _ name: String) throws -> IPv4CIDR {
            if let given {
                if let (other, range) = taken.first(where: { $0.1.overlaps(given) }) {
                    throw RangeError(description: "\(name) \(given) overlaps \(other) \(range)")
                }
                return given
            }
            let others = taken.map(\.1) + [engine, overlay].compactMap { $0 }
            guard let free = defaults.first(where: { candidate in !others.contains { $0.overlaps(candidate) } }) else {
                throw RangeError(description: "no default range for \(name) is free beside --vpn-cidr \(vpn): give --engine-cidr and --overlay-cidr")
            }
            return free
        }
        let engineRange = try pick(engine, "--engine-cidr")
        taken.append(("--engine-cidr", engineRange))
        return (engineRange, try pick(overlay, "--overlay-cidr"))
    }
}
