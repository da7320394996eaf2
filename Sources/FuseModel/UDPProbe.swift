/// How a relayed worker learns that UDP to the hub passes again: every `interval` it sends a
/// probe, 16 bytes (`FUSEPROB` and a nonce of its own), to the hub's WireGuard port, the address
/// its tunnel would use. No WireGuard message starts like this (their first byte is a type, 1 to
/// 4, followed by three zero bytes); the hub's nftables table redirects probes to the master's
/// responder (UDP on the API's port number), which sends the same 16 bytes back, and conntrack
/// makes the answer come from the WireGuard port. An answer with the worker's nonce proves that
/// UDP passes both ways between the worker and the hub's port, through every NAT on the way,
/// whether or not the tunnel carries traffic: the worker moves back to direct.
///
/// A probe is answered with exactly what it carried (no amplification); the responder answers
/// at most `answersPerSecondPerSender` probes a second to one address and port (a worker sends
/// one a second; many workers behind one NAT have ports of their own) and `answersPerSecond`
/// in all.
public enum UDPProbe {
    public static let magic = Array("FUSEPROB".utf8)
    public static let length = 16
    public static let interval: Duration = .seconds(1)
    public static let answersPerSecond = 5_000
    public static let answersPerSecondPerSender = 2

    /// The probe (and its answer) that carries `nonce`.
    public static func datagram(nonce: UInt64) -> [UInt8] {
        magic + (0..<8).map { UInt8(truncatingIfNeeded: nonce >> (56 - 8 * $0)) }
    }

    /// The nonce of a well-formed probe; nil for anything else.
    public static func nonce(of bytes: some Collection<UInt8>) -> UInt64? {
        guard bytes.count == length, bytes.starts(with: magic) else { return nil }
        return bytes.dropFirst(magic.count).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// The nftables match for a probe to the hub's WireGuard port: its UDP payload (after the
    /// 8-byte UDP header) starts with the magic.
    public static func match(hubPort: UInt16) -> String {
        "udp dport \(hubPort) @th,64,64 0x" + Hex.encode(magic)
    }
}

/// On the hub: probes that reach its WireGuard port go to the master's probe responder.
public struct ProbeRedirect: Equatable, Sendable {
    /// The hub's WireGuard port.
    public let hubPort: UInt16
    /// The responder's UDP port (the API's port number).
    public let answerPort: UInt16

    public init(hubPort: UInt16, answerPort: UInt16) {
        self.hubPort = hubPort
        self.answerPort = answerPort
    }
}
