/// A WireGuard peer as the device holds it (desired or read back).
public struct WireGuardPeer: Equatable, Sendable {
    public var publicKey: WireGuardKey
    /// Resolved `IP:port`, or nil when the peer dials in.
    public var endpoint: String?
    public var allowedIPs: [IPv4CIDR]
    public var persistentKeepalive: Int
    /// Seconds since the epoch of the last completed handshake; 0 = never. Read back only.
    public var lastHandshake: Int64
    /// Where a peer that dials in was last seen (`IP:port`): set only while the device knows no
    /// endpoint for it, so that a restarted hub can reach its workers at once and a worker that
    /// roams keeps the endpoint WireGuard learnt. Desired only.
    public var fallbackEndpoint: String?

    public init(publicKey: WireGuardKey, endpoint: String?, allowedIPs: [IPv4CIDR], persistentKeepalive: Int = 0, lastHandshake: Int64 = 0,
                fallbackEndpoint: String? = nil) {
        self.publicKey = publicKey
        self.endpoint = endpoint
        self.allowedIPs = allowedIPs
        self.persistentKeepalive = persistentKeepalive
        self.lastHandshake = lastHandshake
        self.fallbackEndpoint = fallbackEndpoint
    }

    /// The endpoint to set on the device, which holds `existing` for this peer; nil: none.
    public func endpointToSet(over existing: WireGuardPeer?) -> String? {
        if let endpoint { return existing?.endpoint == endpoint ? nil : endpoint }
        return existing?.endpoint == nil ? fallbackEndpoint : nil
    }
}

/// A WireGuard device's configuration.
public struct WireGuardDevice: Equatable, Sendable {
    public var privateKey: WireGuardKey?
    /// nil: any port (workers dial out; the port wireguard-go picked stays as it is).
    public var listenPort: UInt16?
    public var peers: [WireGuardPeer]

    public init(privateKey: WireGuardKey?, listenPort: UInt16?, peers: [WireGuardPeer]) {
        self.privateKey = privateKey
        self.listenPort = listenPort
        self.peers = peers
    }
}

/// The cross-platform userspace API of WireGuard (wireguard-go's UAPI socket): a text protocol of
/// `key=value` lines, ended by an empty line. See https://www.wireguard.com/xplatform/.
public enum WireGuardUAPI {
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// The `set=1` request that turns `current` into `desired` without disturbing what is
    /// already right: peers that stay keep their sessions (no `replace_peers`), peers that go
    /// are removed, and a device already in the desired state gets no request at all (nil).
    public static func renderSet(desired: WireGuardDevice, current: WireGuardDevice?) -> String? {
        var lines: [String] = []
        if current?.privateKey != desired.privateKey, let key = desired.privateKey {
            lines.append("private_key=\(key.hex)")
        }
        if let port = desired.listenPort, current?.listenPort != port {
            lines.append("listen_port=\(port)")
        }
        let currentPeers = current?.peers ?? []
        let pairing = desired.pairing(with: current)
        for index in pairing.removed {
            lines.append("public_key=\(currentPeers[index].publicKey.hex)")
            lines.append("remove=true")
        }
        for (peer, existingIndex) in zip(desired.peers, pairing.oldIndex) {
            let existing = existingIndex.map { currentPeers[$0] }
            var peerLines: [String] = []
            if let endpoint = peer.endpointToSet(over: existing) {
                peerLines.append("endpoint=\(endpoint)")
            }
            if existing?.persistentKeepalive != peer.persistentKeepalive {
                peerLines.append("persistent_keepalive_interval=\(peer.persistentKeepalive)")
            }
            // In order first: the hub compares every peer per map, and a set per peer was most of it.
            if let existing, existing.allowedIPs == peer.allowedIPs || Set(existing.allowedIPs) == Set(peer.allowedIPs) {} else {
                peerLines.append("replace_allowed_ips=true")
                peerLines += peer.allowedIPs.map { "allowed_ip=\($0)" }
            }
            if existing == nil || !peerLines.isEmpty {
                lines.append("public_key=\(peer.publicKey.hex)")
                lines += peerLines
            }
        }
        guard !lines.isEmpty else { return nil }
        return "set=1\n" + lines.joined(separator: "\n") + "\n\n"
    }

    /// The request that reads a device back.
    public static let getRequest = "get=1\n\n"

    /// A request that changes nothing and is answered `errno=0` by a device that works: whether
    /// a device answers, without `get=1`'s dump of every peer (2,000 at the hub).
    public static let probeRequest = "set=1\n\n"

    /// Parses the answer to `get=1` (ending with `errno=N`).
    public static func parseGet(_ text: String) throws -> WireGuardDevice {
        var device = WireGuardDevice(privateKey: nil, listenPort: nil, peers: [])
        var peer: WireGuardPeer?
        var errno: Int?
        try UAPIFields.scan(text) { field in
            switch field.key {
            case .malformed: throw ParseError(description: "uapi: line without '=': \(field.text)")
            case .privateKey: device.privateKey = WireGuardKey(hex: field.text)
            case .listenPort: device.listenPort = UInt16(field.text)
            case .publicKey:
                if let peer { device.peers.append(peer) }
                guard let key = WireGuardKey(hex: field.text) else { throw ParseError(description: "uapi: bad public key") }
                peer = WireGuardPeer(publicKey: key, endpoint: nil, allowedIPs: [])
            case .endpoint: peer?.endpoint = field.text
            case .allowedIP:
                // IPv6 entries are ignored: FUSE routes IPv4 only.
                if let cidr = try? IPv4CIDR(parsing: field.text) { peer?.allowedIPs.append(cidr) }
            case .keepalive: peer?.persistentKeepalive = field.number.map(Int.init) ?? 0
            case .lastHandshake: peer?.lastHandshake = field.number ?? 0
            case .errno: errno = field.number.map(Int.init)
            case .receivedBytes, .sentBytes, .other: break
            }
        }
        if let peer { device.peers.append(peer) }
        guard let errno else { throw ParseError(description: "uapi: answer without errno") }
        guard errno == 0 else { throw ParseError(description: "uapi: get failed with errno \(errno)") }
        return device
    }

    /// The `errno` of an answer to `set=1`.
    public static func parseSetAnswer(_ text: String) throws {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("errno=") }),
              let errno = Int(line.dropFirst("errno=".count))
        else { throw ParseError(description: "uapi: answer without errno") }
        guard errno == 0 else { throw ParseError(description: "uapi: set failed with errno \(errno)") }
    }
}

extension WireGuardDevice {
    /// This (desired) device's peers matched by public key with `current`'s.
    func pairing(with current: WireGuardDevice?) -> KeyedPairing {
        KeyedPairing(new: peers, old: current?.peers ?? [], key: \.publicKey)
    }

    /// The device as it is once the changes from itself to `desired` (`WireGuardUAPI.renderSet`,
    /// `WireGuardCLI.renderSet`) were applied: `desired`'s key, port and peers, each peer with
    /// the handshake and the endpoint the device had for it (a peer that dials in keeps the one
    /// WireGuard learnt). Lets the hub apply the next map against what it applied, instead of
    /// reading thousands of peers back after every change.
    public func afterApplying(_ desired: WireGuardDevice) -> WireGuardDevice {
        let pairing = desired.pairing(with: self)
        return WireGuardDevice(privateKey: desired.privateKey ?? privateKey, listenPort: desired.listenPort ?? listenPort,
                               peers: zip(desired.peers, pairing.oldIndex).map { peer, index in
            let old = index.map { peers[$0] }
            return WireGuardPeer(publicKey: peer.publicKey, endpoint: peer.endpointToSet(over: old) ?? old?.endpoint, allowedIPs: peer.allowedIPs,
                                 persistentKeepalive: peer.persistentKeepalive, lastHandshake: old?.lastHandshake ?? 0)
        })
    }
}

extension WireGuardDevice {
    /// The device a network map asks for; `resolve` turns `host:port` endpoints into `IP:port`.
    public init(map: NetworkMap, privateKey: WireGuardKey, listenPort: UInt16?, resolve: (String) -> String?) {
        self.init(privateKey: privateKey, listenPort: listenPort, peers: map.peers.map {
            WireGuardPeer(publicKey: $0.publicKey, endpoint: $0.endpoint.flatMap(resolve),
                          allowedIPs: $0.allowedIPs, persistentKeepalive: $0.persistentKeepalive ?? 0, fallbackEndpoint: $0.lastEndpoint)
        })
    }
}
