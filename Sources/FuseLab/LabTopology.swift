import Foundation

/// What a lab node is: the WAN router, a domain's router, a federated node (runs `fuse`), or a
/// non-federated device (camera, data store, operator PC).
public enum LabRole: String, Codable, Sendable, CaseIterable {
    case wan
    case router
    case federated
    case nonFederated = "non-federated"
}

/// A lab error: one line for people.
/// Policies the lab's demo, benchmarks and tests set.
public enum LabPolicy {
    /// Nodes may ping each other (the default policy denies traffic between nodes).
    public static let ping = #"{ "rules": [ { "name": "nodes ping each other", "from": ["*"], "to": ["*"], "proto": "icmp" } ] }"#
    /// Every node may reach every other on any port (benchmarks: iperf3 between nodes).
    public static let open = #"{ "rules": [ { "name": "benchmarks: nodes reach each other", "from": ["*"], "to": ["*"] } ] }"#
}

public struct LabError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The lab-internal address plan and fixed names, kept in one place.
/// None of these addresses ever leaves the lab's namespaces.
public enum LabAddressPlan {
    public static let defaultPrefix = "fl-"
    public static let defaultAPIPort = 7443
    public static let defaultWireGuardPort = 51820
    /// Where labs keep their description and the federated nodes' state directories.
    public static let runRoot = "/run/fuse-lab"
    /// Where `ip netns add` puts the namespace handles.
    public static let netnsRoot = "/var/run/netns"
    /// Where wireguard-go puts its UAPI sockets (global to the machine, not per namespace).
    public static let wireGuardSocketRoot = "/var/run/wireguard"
    /// Router link N (domain N = 1, 2, 3): WAN side 172.31.N.1/24, router side 172.31.N.2/24.
    public static let routerLinkBase = "172.31"
    public static let routerLinkPrefixLength = 24
    /// The nftables table each router owns.
    public static let routerTable = "fuselab"
    /// The table that limits what leaves a router's LAN (`LabEgress`).
    public static let egressTable = "fuselabegress"
    /// Interface names inside the namespaces (each namespace is private, so they need no prefix).
    public static let routerWANLink = "wan0"
    public static let routerBridge = "lan0"
    public static let hostLink = "eth0"
    /// Linux interface names are at most 15 bytes (IFNAMSIZ - 1).
    public static let maxInterfaceNameLength = 15
    public static let maxPrefixLength = 6
}

/// One administrative domain of the lab: a LAN behind its own NAT router.
public struct LabDomain: Codable, Sendable, Equatable {
    /// `crisis`, `companyA`, `companyB`.
    public let name: String
    /// 1, 2, 3: numbers the router link subnet.
    public let index: Int
    public let routerId: String
    /// The LAN in CIDR notation, e.g. `10.10.0.0/24`.
    public let lan: String
    public let lanPrefixLength: Int
    /// The router's LAN address (the hosts' default gateway).
    public let gateway: String
    /// The router link subnet, e.g. `172.31.1.0/24`.
    public let linkSubnet: String
    /// The WAN namespace's address on this domain's router link.
    public let wanSideAddress: String
    /// The router's public (WAN) address.
    public let routerWANAddress: String
    /// The name of the router link in the WAN namespace.
    public let wanLinkName: String
    /// What the router lets out of the LAN when the lab comes up (nil: everything).
    public var egress: LabEgress? = nil
}

/// What a domain's router lets out of its LAN towards the WAN (replies always come back in).
public enum LabEgress: String, Codable, Sendable, CaseIterable {
    /// Everything (the default of every domain).
    case open
    /// Everything but UDP (no UDP crosses the router either way): WireGuard cannot leave, the
    /// master's API port (TCP) can.
    case noUDP = "no-udp"
    /// Only TCP to the master's API port (a company that allows one port out).
    case apiOnly = "api-only"
}

/// One node of the lab: a network namespace.
public struct LabNode: Codable, Sendable, Equatable {
    /// Short id used on the command line: `master`, `a1`, `crisis-r`, `wan`, ...
    public let id: String
    public let namespace: String
    /// The domain's name; nil for the WAN router.
    public let domain: String?
    public let role: LabRole
    /// LAN address without prefix length (routers: their LAN gateway address; WAN: nil).
    public let lanAddress: String?
    public let lanPrefixLength: Int?
    /// Default gateway of hosts (the domain router's LAN address).
    public let gateway: String?
    /// Routers only: address on the router link.
    public let wanAddress: String?
    /// Hosts only: name of the host's veth end in the router namespace.
    public let routerPort: String?
    /// Federated nodes only: the WireGuard interface name (`FUSE_INTERFACE`).
    public let interface: String?
    /// Federated nodes only: the `fuse` state directory (`FUSE_STATE_DIR`).
    public let stateDir: String?

    public var isHost: Bool { role == .federated || role == .nonFederated }

    /// The environment `fuse` needs in this node (empty for non-federated nodes).
    public var fuseEnvironment: [String: String] {
        guard role == .federated, let stateDir, let interface else { return [:] }
        return ["FUSE_STATE_DIR": stateDir, "FUSE_INTERFACE": interface]
    }
}

/// A whole lab as a value: namespaces, links, addresses, ports. Pure; `Lab` applies it.
public struct LabTopology: Codable, Sendable, Equatable {
    public let prefix: String
    public let apiPort: Int
    public let wgPort: Int
    public let domains: [LabDomain]
    public let nodes: [LabNode]
    /// The node that runs the FUSE master.
    public let masterNodeId: String
    /// Where workers reach the master: the crisis router's WAN address (DNATs the ports).
    public let masterEndpoint: String
    /// `/run/fuse-lab/PREFIX`: lab.json and the state directories.
    public let runDirectory: String

    public var descriptionFile: String { "\(runDirectory)/lab.json" }

    public func node(_ id: String) -> LabNode? {
        nodes.first { $0.id == id } ?? nodes.first { $0.namespace == id }
    }

    public func domain(_ name: String) -> LabDomain? { domains.first { $0.name == name } }

    public func router(of domain: LabDomain) -> LabNode? { node(domain.routerId) }

    public func hosts(in domain: LabDomain) -> [LabNode] {
        nodes.filter { $0.isHost && $0.domain == domain.name }
    }

    public var wan: LabNode? { nodes.first { $0.role == .wan } }
    public var federatedNodes: [LabNode] { nodes.filter { $0.role == .federated } }
    public var interfaceNames: [String] { nodes.compactMap(\.interface) }
    public var namespaces: [String] { nodes.map(\.namespace) }

    /// Checks a lab name prefix: 1–6 characters of a-z, 0-9 and `-`.
    public static func validate(prefix: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
        guard (1...LabAddressPlan.maxPrefixLength).contains(prefix.count), prefix.allSatisfy(allowed.contains) else {
            throw LabError("invalid lab prefix '\(prefix)': use 1–\(LabAddressPlan.maxPrefixLength) characters of a-z, 0-9 and '-'")
        }
    }

    static func validate(port: Int, name: String) throws {
        guard (1...65535).contains(port) else { throw LabError("invalid \(name) \(port): use 1–65535") }
    }

    /// The paper's Fig. 1: a WAN router, the crisis domain (master, operator PC), company A
    /// (worker a1, camera) and company B (workers b1, b2, data store), each domain behind a NAT
    /// router whose firewall admits nothing from the WAN, except the master's two ports at the
    /// crisis router.
    ///
    /// `udpBlockedDomain`: also company C (worker c1, LAN device sensor), whose router lets no UDP out (`LabEgress.noUDP`;
    /// `Lab.setEgress` changes that at run time): its node reaches the hub over the relay.
    public static func standard(
        prefix: String = LabAddressPlan.defaultPrefix,
        apiPort: Int = LabAddressPlan.defaultAPIPort,
        wgPort: Int = LabAddressPlan.defaultWireGuardPort,
        udpBlockedDomain: Bool = false
    ) throws -> LabTopology {
        try validate(prefix: prefix)
        try validate(port: apiPort, name: "API port")
        try validate(port: wgPort, name: "WireGuard port")

        struct HostSpec { let id: String; let role: LabRole }
        struct DomainSpec { let name: String; let routerId: String; let lanBase: String; let hosts: [HostSpec]; var egress: LabEgress? = nil }
        var specs = [
            DomainSpec(name: "crisis", routerId: "crisis-r", lanBase: "10.10.0", hosts: [
                HostSpec(id: "master", role: .federated), HostSpec(id: "op", role: .nonFederated),
            ]),
            DomainSpec(name: "companyA", routerId: "a-r", lanBase: "192.168.10", hosts: [
                HostSpec(id: "a1", role: .federated), HostSpec(id: "cam", role: .nonFederated),
            ]),
            DomainSpec(name: "companyB", routerId: "b-r", lanBase: "192.168.20", hosts: [
                HostSpec(id: "b1", role: .federated), HostSpec(id: "b2", role: .federated),
                HostSpec(id: "store", role: .nonFederated),
            ]),
        ]
        if udpBlockedDomain {
            specs.append(DomainSpec(name: "companyC", routerId: "c-r", lanBase: "192.168.30", hosts: [
                HostSpec(id: "c1", role: .federated), HostSpec(id: "sensor", role: .nonFederated),
            ], egress: .noUDP))
        }
        let runDirectory = "\(LabAddressPlan.runRoot)/\(prefix)"
        let link = LabAddressPlan.routerLinkBase
        var domains: [LabDomain] = []
        var nodes: [LabNode] = [
            LabNode(id: "wan", namespace: prefix + "wan", domain: nil, role: .wan, lanAddress: nil,
                    lanPrefixLength: nil, gateway: nil, wanAddress: nil, routerPort: nil, interface: nil, stateDir: nil),
        ]
        for (offset, spec) in specs.enumerated() {
            let index = offset + 1
            let domain = LabDomain(
                name: spec.name, index: index, routerId: spec.routerId,
                lan: "\(spec.lanBase).0/24", lanPrefixLength: 24, gateway: "\(spec.lanBase).1",
                linkSubnet: "\(link).\(index).0/\(LabAddressPlan.routerLinkPrefixLength)",
                wanSideAddress: "\(link).\(index).1", routerWANAddress: "\(link).\(index).2",
                wanLinkName: "r-\(spec.name)", egress: spec.egress)
            domains.append(domain)
            nodes.append(LabNode(
                id: spec.routerId, namespace: prefix + spec.routerId, domain: spec.name, role: .router,
                lanAddress: domain.gateway, lanPrefixLength: 24, gateway: nil, wanAddress: domain.routerWANAddress,
                routerPort: nil, interface: nil, stateDir: nil))
            for (hostOffset, host) in spec.hosts.enumerated() {
                let federated = host.role == .federated
                nodes.append(LabNode(
                    id: host.id, namespace: prefix + host.id, domain: spec.name, role: host.role,
                    lanAddress: "\(spec.lanBase).\(10 + hostOffset)", lanPrefixLength: 24, gateway: domain.gateway,
                    wanAddress: nil, routerPort: "h-\(host.id)",
                    interface: federated ? prefix + host.id.replacingOccurrences(of: "-", with: "") : nil,
                    stateDir: federated ? "\(runDirectory)/\(host.id)" : nil))
            }
        }
        let topology = LabTopology(
            prefix: prefix, apiPort: apiPort, wgPort: wgPort, domains: domains, nodes: nodes,
            masterNodeId: "master", masterEndpoint: domains[0].routerWANAddress, runDirectory: runDirectory)
        try topology.validateNames()
        return topology
    }

    /// Interface names must fit IFNAMSIZ and be unique on the machine (wireguard-go's UAPI
    /// socket path is global); namespace names must be unique.
    public func validateNames() throws {
        var seenInterfaces = Set<String>()
        for name in interfaceNames {
            guard name.utf8.count <= LabAddressPlan.maxInterfaceNameLength else {
                throw LabError("interface name '\(name)' is longer than \(LabAddressPlan.maxInterfaceNameLength) characters; use a shorter prefix")
            }
            guard seenInterfaces.insert(name).inserted else { throw LabError("interface name '\(name)' is used twice") }
        }
        var seenNamespaces = Set<String>()
        for node in nodes {
            guard seenNamespaces.insert(node.namespace).inserted else { throw LabError("namespace '\(node.namespace)' is used twice") }
            for name in [node.routerPort].compactMap({ $0 }) + domains.map(\.wanLinkName)
            where name.utf8.count > LabAddressPlan.maxInterfaceNameLength {
                throw LabError("link name '\(name)' is longer than \(LabAddressPlan.maxInterfaceNameLength) characters")
            }
        }
    }
}
