/// Kernel WireGuard has no UAPI socket; FUSE drives it with the `wg` tool. These pure
/// functions read `wg show IFACE dump` and render the `wg set` arguments that turn the current
/// device into the desired one, with the same rules as `WireGuardUAPI.renderSet`.
public enum WireGuardCLI {
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Parses `wg show IFACE dump` (tab-separated: the interface line, then one line per peer).
    public static func parseDump(_ text: String) throws -> WireGuardDevice {
        let lines = text.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        guard let first = lines.first, first.count >= 3 else { throw ParseError(description: "wg dump: no interface line") }
        var device = WireGuardDevice(privateKey: WireGuardKey(base64: first[0]), listenPort: UInt16(first[2]), peers: [])
        for fields in lines.dropFirst() {
            guard fields.count >= 8, let key = WireGuardKey(base64: fields[0]) else { throw ParseError(description: "wg dump: bad peer line") }
            let allowed = fields[3] == "(none)" ? [] : fields[3].split(separator: ",").compactMap { try? IPv4CIDR(parsing: String($0)) }
            device.peers.append(WireGuardPeer(
                publicKey: key, endpoint: fields[2] == "(none)" ? nil : fields[2], allowedIPs: allowed,
                persistentKeepalive: Int(fields[7]) ?? 0, lastHandshake: Int64(fields[4]) ?? 0))
        }
        return device
    }

    /// Arguments after `wg set IFACE`, or nil when nothing differs. The private key is read
    /// from stdin (`private-key /dev/stdin`) so that it never shows in a process list; the
    /// caller passes `desired.privateKey` as input when the arguments contain it.
    public static func renderSet(desired: WireGuardDevice, current: WireGuardDevice?) -> [String]? {
        var args: [String] = []
        if current?.privateKey != desired.privateKey, desired.privateKey != nil {
            args += ["private-key", "/dev/stdin"]
        }
        if let port = desired.listenPort, current?.listenPort != port {
            args += ["listen-port", String(port)]
        }
        let currentPeers = current?.peers ?? []
        let pairing = desired.pairing(with: current)
        for index in pairing.removed {
            args += ["peer", currentPeers[index].publicKey.base64, "remove"]
        }
        for (peer, existingIndex) in zip(desired.peers, pairing.oldIndex) {
            let existing = existingIndex.map { currentPeers[$0] }
            var peerArgs: [String] = []
            if let endpoint = peer.endpointToSet(over: existing) { peerArgs += ["endpoint", endpoint] }
            if existing?.persistentKeepalive != peer.persistentKeepalive {
                peerArgs += ["persistent-keepalive", peer.persistentKeepalive == 0 ? "off" : String(peer.persistentKeepalive)]
            }
            if existing.map({ Set($0.allowedIPs) }) != Set(peer.allowedIPs) {
                peerArgs += ["allowed-ips", peer.allowedIPs.map(\.description).joined(separator: ",")]
            }
            if existing == nil || !peerArgs.isEmpty { args += ["peer", peer.publicKey.base64] + peerArgs }
        }
        return args.isEmpty ? nil : args
    }
}
