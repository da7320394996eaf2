/// A node as the master's registry knows it.
public struct NodeRecord: Codable, Hashable, Sendable {
    public let name: String
    public let domain: String
    public let address: IPv4Address
    public let publicKey: WireGuardKey
    public let isMaster: Bool
    /// The subnet of the node's own container engine; nil when the node runs no workloads
    /// (`fuse join --no-workloads`, or a federation without workloads).
    public let engineSubnet: IPv4CIDR?

    public init(name: String, domain: String, address: IPv4Address, publicKey: WireGuardKey, isMaster: Bool, engineSubnet: IPv4CIDR? = nil) {
        self.name = name
        self.domain = domain
        self.address = address
        self.publicKey = publicKey
        self.isMaster = isMaster
        self.engineSubnet = engineSubnet
    }

    public var runsWorkloads: Bool { engineSubnet != nil }
}

/// One WireGuard peer of a node.
public struct MapPeer: Codable, Hashable, Sendable {
    public let name: String
    public let publicKey: WireGuardKey
    /// `host:port` for peers this node dials (the hub); nil for peers that dial in.
    public let endpoint: String?
    public let allowedIPs: [IPv4CIDR]
    public let persistentKeepalive: Int?
    /// For the hub: where a worker was last seen (`IP:port`), kept across restarts of the hub
    /// so that it reaches its workers at once instead of waiting for them to speak first.
    public let lastEndpoint: String?

    public init(name: String, publicKey: WireGuardKey, endpoint: String?, allowedIPs: [IPv4CIDR], persistentKeepalive: Int?,
                lastEndpoint: String? = nil) {
        self.name = name
        self.publicKey = publicKey
        self.endpoint = endpoint
        self.allowedIPs = allowedIPs
        self.persistentKeepalive = persistentKeepalive
        self.lastEndpoint = lastEndpoint
    }
}

/// What the master tells one agent: its address, its peers and routes, with a version number.
public struct NetworkMap: Codable, Hashable, Sendable {
    public let version: Int64
    public let federation: String
    public let cidr: IPv4CIDR
    public let node: NodeRecord
    public let isHub: Bool
    public let peers: [MapPeer]
    /// The master's VPN address; the control plane is also reachable there.
    public let masterAddress: IPv4Address
    public let apiPort: UInt16
    /// What this node enforces on its WireGuard interface (from the federation's policy).
    public let firewall: NodeFirewall

    public init(version: Int64, federation: String, cidr: IPv4CIDR, node: NodeRecord, isHub: Bool, peers: [MapPeer], masterAddress: IPv4Address, apiPort: UInt16, firewall: NodeFirewall = NodeFirewall()) {
        self.version = version
        self.federation = federation
        self.cidr = cidr
        self.node = node
        self.isHub = isHub
        self.peers = peers
        self.masterAddress = masterAddress
        self.apiPort = apiPort
        self.firewall = firewall
    }

    /// The interface address with the federation's prefix length: the kernel derives the one
    /// route every node needs (the whole range via the WireGuard interface) from it.
    public var interfaceAddress: String { "\(node.address)/\(cidr.prefixLength)" }

    /// The same map at another version (to compare what two maps enforce, whatever their versions).
    public func at(version: Int64) -> NetworkMap {
        NetworkMap(version: version, federation: federation, cidr: cidr, node: node, isHub: isHub, peers: peers,
                   masterAddress: masterAddress, apiPort: apiPort, firewall: firewall)
    }
}

/// The federation-wide facts from which every node's map is computed.
public struct FederationFacts: Sendable {
    public let name: String
    public let cidr: IPv4CIDR
    public let endpointHost: String
    public let wireGuardPort: UInt16
    public let apiPort: UInt16
    public let keepalive: Int

    public init(name: String, cidr: IPv4CIDR, endpointHost: String, wireGuardPort: UInt16, apiPort: UInt16, keepalive: Int = 25) {
        self.name = name
        self.cidr = cidr
        self.endpointHost = endpointHost
        self.wireGuardPort = wireGuardPort
        self.apiPort = apiPort
        self.keepalive = keepalive
    }
}

extension NetworkMap {
    /// Star topology through the master's hub (the paper's design; works when workers sit
    /// behind NAT): a worker has one peer, the hub, which carries the whole range and is dialled
    /// with a keepalive so that the NAT mapping stays open; the hub has every worker as a
    /// peer with just its /32 and forwards between them. Returns nil for an unknown node.
    /// `lastEndpoints`: where the hub last saw each worker; the hub gets them, with a keepalive
    /// that makes it speak first after a restart (the worker's NAT mapping to the hub is open).
    public static func compute(for name: String, nodes: [NodeRecord], facts: FederationFacts, version: Int64,
                               firewall: (NodeRecord) -> NodeFirewall = { _ in NodeFirewall() },
                               lastEndpoints: [WireGuardKey: String] = [:]) -> NetworkMap? {
        guard let node = nodes.first(where: { $0.name == name }),
              let master = nodes.first(where: \.isMaster)
        else { return nil }
        let peers = node.isMaster ? hubPeers(workers: nodes.filter { !$0.isMaster }, lastEndpoints: lastEndpoints, keepalive: facts.keepalive)
                                  : workerPeers(master: master, facts: facts)
        return NetworkMap(version: version, federation: facts.name, cidr: facts.cidr, node: node,
                          isHub: node.isMaster, peers: peers, masterAddress: master.address, apiPort: facts.apiPort,
                          firewall: firewall(node))
    }

    /// The hub's peers: every worker with just its /32, in address order. A worker in
    /// `lastEndpoints` (where the hub last saw it) gets that endpoint and a keepalive, so that a
    /// restarted hub speaks first (the worker's NAT mapping to the hub is open).
    public static func hubPeers(workers: [NodeRecord], lastEndpoints: [WireGuardKey: String] = [:], keepalive: Int = 25) -> [MapPeer] {
        workers.sorted { $0.address < $1.address }.map {
            let last = lastEndpoints[$0.publicKey]
            return MapPeer(name: $0.name, publicKey: $0.publicKey, endpoint: nil, allowedIPs: [IPv4CIDR(network: $0.address, prefixLength: 32)],
                           persistentKeepalive: last == nil ? nil : keepalive, lastEndpoint: last)
        }
    }

    /// The hub's map with where it last saw each worker (see `hubPeers`); these endpoints are
    /// not part of the map's version.
    public func withLastEndpoints(_ lastEndpoints: [WireGuardKey: String], keepalive: Int) -> NetworkMap {
        guard isHub, !lastEndpoints.isEmpty else { return self }
        let peers = peers.map { peer in
            guard let last = lastEndpoints[peer.publicKey] else { return peer }
            return MapPeer(name: peer.name, publicKey: peer.publicKey, endpoint: peer.endpoint, allowedIPs: peer.allowedIPs,
                           persistentKeepalive: peer.persistentKeepalive ?? keepalive, lastEndpoint: last)
        }
        return NetworkMap(version: version, federation: federation, cidr: cidr, node: node, isHub: isHub, peers: peers,
                          masterAddress: masterAddress, apiPort: apiPort, firewall: firewall)
    }

    /// A worker's one peer: the hub, carrying the whole range, dialled with a keepalive.
    public static func workerPeers(master: NodeRecord, facts: FederationFacts) -> [MapPeer] {
        [MapPeer(name: master.name, publicKey: master.publicKey, endpoint: "\(facts.endpointHost):\(facts.wireGuardPort)",
                 allowedIPs: [facts.cidr], persistentKeepalive: facts.keepalive)]
    }
}

extension NetworkMap {
    /// Where a worker finds the master (the host of its hub's endpoint, the master's
    /// `--endpoint`); nil on the hub. It changes only with `fuse master set-endpoint`.
    public var masterEndpointHost: String? {
        guard !isHub, let endpoint = peers.first?.endpoint, let colon = endpoint.lastIndex(of: ":") else { return nil }
        return String(endpoint[..<colon])
    }
}
