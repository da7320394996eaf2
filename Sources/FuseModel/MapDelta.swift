/// The changes between two versions of one node's network map: each top-level field that
/// changed, and the peers added or changed (by name) and removed. What stayed is absent, so a
/// change that does not touch a node's map costs it a few bytes.
public struct MapDelta: Codable, Hashable, Sendable {
    /// The version this delta applies to, and the version it gives.
    public let from: Int64
    public let version: Int64
    public var federation: String?
    public var cidr: IPv4CIDR?
    public var node: NodeRecord?
    public var isHub: Bool?
    public var masterAddress: IPv4Address?
    public var apiPort: UInt16?
    public var firewall: NodeFirewall?
    /// Peers added or changed, whole.
    public var peers: [MapPeer]
    /// Names of the peers that went.
    public var removedPeers: [String]

    /// The delta that turns `old` into `new`.
    public init(from old: NetworkMap, to new: NetworkMap) {
        from = old.version
        version = new.version
        federation = old.federation == new.federation ? nil : new.federation
        cidr = old.cidr == new.cidr ? nil : new.cidr
        node = old.node == new.node ? nil : new.node
        isHub = old.isHub == new.isHub ? nil : new.isHub
        masterAddress = old.masterAddress == new.masterAddress ? nil : new.masterAddress
        apiPort = old.apiPort == new.apiPort ? nil : new.apiPort
        firewall = old.firewall == new.firewall ? nil : new.firewall
        let oldPeers = Dictionary(old.peers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let newNames = Set(new.peers.map(\.name))
        peers = new.peers.filter { oldPeers[$0.name] != $0 }
        removedPeers = old.peers.map(\.name).filter { !newNames.contains($0) }
    }

    /// Whether only the version changes.
    public var isEmpty: Bool {
        federation == nil && cidr == nil && node == nil && isHub == nil && masterAddress == nil && apiPort == nil && firewall == nil
            && peers.isEmpty && removedPeers.isEmpty
    }

    /// `map` with this delta applied; peers in the order the master gives them (`MapPeer.ordered`).
    public func applied(to map: NetworkMap) throws(MapUpdateError) -> NetworkMap {
        guard map.version == from else { throw MapUpdateError("a map delta from version \(from) does not apply to version \(map.version)") }
        let removed = Set(removedPeers + peers.map(\.name))
        return NetworkMap(version: version, federation: federation ?? map.federation, cidr: cidr ?? map.cidr, node: node ?? map.node,
                          isHub: isHub ?? map.isHub, peers: MapPeer.ordered(map.peers.filter { !removed.contains($0.name) } + peers),
                          masterAddress: masterAddress ?? map.masterAddress, apiPort: apiPort ?? map.apiPort, firewall: firewall ?? map.firewall)
    }
}

/// What `GET /v1/map/updates` answers: the node's whole map, or the changes since the version
/// it has. `format` is the wire format's version (1); a client refuses one it does not know.
public struct MapUpdate: Codable, Hashable, Sendable {
    public static let currentFormat = 1
    public let format: Int
    public let full: NetworkMap?
    public let delta: MapDelta?

    public static func full(_ map: NetworkMap) -> MapUpdate { MapUpdate(format: currentFormat, full: map, delta: nil) }
    public static func delta(_ delta: MapDelta) -> MapUpdate { MapUpdate(format: currentFormat, full: nil, delta: delta) }

    /// The version the node has after this update.
    public var version: Int64 { full?.version ?? delta?.version ?? 0 }

    /// The node's whole map after this update; `base` is the map it has (needed for a delta).
    public func applied(to base: NetworkMap?) throws(MapUpdateError) -> NetworkMap {
        guard format == Self.currentFormat else { throw MapUpdateError("map update format \(format) is not known here (this agent knows \(Self.currentFormat))") }
        if let full { return full }
        guard let delta else { throw MapUpdateError("a map update without a map or a delta") }
        guard let base else { throw MapUpdateError("a map delta from version \(delta.from) arrived without a map to apply it to") }
        return try delta.applied(to: base)
    }
}

public struct MapUpdateError: Error, Equatable, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension MapPeer {
    /// The order of a map's peers: by their first allowed address (for the hub: each node's
    /// VPN address), then name.
    public static func ordered(_ peers: [MapPeer]) -> [MapPeer] {
        peers.sorted {
            let a = $0.allowedIPs.first?.network.value ?? 0, b = $1.allowedIPs.first?.network.value ?? 0
            return a == b ? $0.name < $1.name : a < b
        }
    }
}
