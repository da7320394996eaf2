/// A peer's traffic and handshake as a WireGuard device reports them (`get=1`).
public struct WireGuardPeerStats: Equatable, Sendable {
    public var publicKey: WireGuardKey
    /// Seconds since the epoch of the last completed handshake; 0 = never.
    public var lastHandshake: Int64 = 0
    public var receivedBytes: Int64 = 0
    public var sentBytes: Int64 = 0
    public var endpoint: String?

    public init(publicKey: WireGuardKey, lastHandshake: Int64 = 0, receivedBytes: Int64 = 0, sentBytes: Int64 = 0, endpoint: String? = nil) {
        self.publicKey = publicKey
        self.lastHandshake = lastHandshake
        self.receivedBytes = receivedBytes
        self.sentBytes = sentBytes
        self.endpoint = endpoint
    }

    /// The peers' counters from `wg show IFACE dump` (kernel WireGuard): after the interface's
    /// line, one line per peer: key, preshared key, endpoint, allowed IPs, handshake, rx, tx, keepalive.
    public static func parseDump(_ text: String) -> [WireGuardPeerStats] {
        text.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 8, let key = WireGuardKey(base64: fields[0]) else { return nil }
            return WireGuardPeerStats(publicKey: key, lastHandshake: Int64(fields[4]) ?? 0, receivedBytes: Int64(fields[5]) ?? 0,
                                      sentBytes: Int64(fields[6]) ?? 0, endpoint: fields[2] == "(none)" ? nil : fields[2])
        }
    }

    /// The peers' counters from an answer to `get=1` (the configuration itself is
    /// `WireGuardUAPI.parseGet`'s).
    public static func parse(_ text: String) -> [WireGuardPeerStats] {
        var peers: [WireGuardPeerStats] = []
        UAPIFields.scan(text) { field in
            if field.key == .publicKey {
                if let publicKey = WireGuardKey(hex: field.text) { peers.append(WireGuardPeerStats(publicKey: publicKey)) }
                return
            }
            guard !peers.isEmpty else { return }
            switch field.key {
            case .lastHandshake: peers[peers.count - 1].lastHandshake = field.number ?? 0
            case .receivedBytes: peers[peers.count - 1].receivedBytes = field.number ?? 0
            case .sentBytes: peers[peers.count - 1].sentBytes = field.number ?? 0
            case .endpoint: peers[peers.count - 1].endpoint = field.text
            default: return
            }
        }
        return peers
    }
}
