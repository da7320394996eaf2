/// How a worker's WireGuard datagrams reach the hub: straight over UDP, or over the relay (one
/// TLS connection to the master's API port, for domains that block UDP).
public enum TunnelPath: String, Codable, Sendable, CaseIterable {
    case direct
    case relay
}

/// A worker's choice of path, from what its device reports (pure; the agent feeds it).
///
/// Direct first. While direct, the hub peer's byte counters are read every second: when the
/// device has sent for `fallbackAfter` seconds and received nothing since (no handshake
/// answer, no reply), the path becomes relay. While relayed, the relay's UDP probe
/// (`UDPProbe`) reports when the hub answered over UDP: the path becomes direct again. Each
/// change starts a fresh WireGuard session through the new path; connections in the tunnel go on.
/// `FUSE_PATH=relay` forces the relay (no probe).
public struct PathChoice: Equatable, Sendable {
    /// Seconds of sending without an answer before falling back to the relay: before
    /// WireGuard's first handshake retry (5 s), which then goes over the relay. A peer that only
    /// receives answers every 10 s (the hub's passive keepalive, under a one-way UDP flood) may
    /// flip the path now and then: nothing is lost, the relay carries it meanwhile.
    public static let fallbackAfter: Double = 3

    /// A direct path that fails within `flapWindow` seconds of the move back (the probe passes
    /// but the tunnel's own traffic does not) keeps the next move back waiting `holdDown`
    /// seconds after the fallback: `firstHoldDown`, doubled at each such failure up to
    /// `maxHoldDown`. A direct path that lasts clears it.
    public static let flapWindow: Double = 30
    public static let firstHoldDown: Double = 15
    public static let maxHoldDown: Double = 300

    public private(set) var path: TunnelPath
    public let forced: Bool
    private var last: (received: Int64, sent: Int64)?
    /// When the device sent something that got no answer yet.
    private var unansweredSince: Double?
    private var directSince: Double?
    private var relaySince = -Double.infinity
    public private(set) var holdDown: Double = 0

    public init(forceRelay: Bool = false) {
        forced = forceRelay
        path = forceRelay ? .relay : .direct
    }

    /// `FUSE_PATH`: `relay` forces the relay; `auto`, empty or absent chooses; anything else is refused.
    public init(environment value: String?) throws {
        switch value ?? "auto" {
        case "relay": self.init(forceRelay: true)
        case "auto", "", "direct": self.init(forceRelay: false)
        case let other: throw PathSettingError(value: other)
        }
    }

    /// A reading of the hub peer's counters at `now` (seconds, any monotonic origin); true when
    /// the path changed.
    public mutating func observe(receivedBytes: Int64, sentBytes: Int64, now: Double) -> Bool {
        guard path == .direct, !forced else { return false }
        defer { last = (receivedBytes, sentBytes) }
        guard let last else {
            // Sent and never answered (a handshake that got no response) counts from now.
            if sentBytes > 0, receivedBytes == 0 { unansweredSince = now }
            return false
        }
        if receivedBytes != last.received {
            unansweredSince = nil
        } else if sentBytes != last.sent, unansweredSince == nil {
            unansweredSince = now
        }
        guard let since = unansweredSince, now - since >= Self.fallbackAfter else { return false }
        if let directSince, now - directSince < Self.flapWindow {
            holdDown = min(max(holdDown * 2, Self.firstHoldDown), Self.maxHoldDown)
        } else {
            holdDown = 0
        }
        path = .relay
        relaySince = now
        directSince = nil
        unansweredSince = nil
        return true
    }

    /// The hub answered over UDP while relayed, at `now`; true when the path changed (not
    /// within `holdDown` of the last fallback).
    public mutating func directAnswered(now: Double) -> Bool {
        guard path == .relay, !forced, now - relaySince >= holdDown else { return false }
        path = .direct
        directSince = now
        last = nil
        unansweredSince = nil
        return true
    }

    public static func == (a: PathChoice, b: PathChoice) -> Bool {
        a.path == b.path && a.forced == b.forced && a.last?.received == b.last?.received && a.last?.sent == b.last?.sent
            && a.unansweredSince == b.unansweredSince && a.directSince == b.directSince && a.relaySince == b.relaySince && a.holdDown == b.holdDown
    }
}

public struct PathSettingError: Error, CustomStringConvertible, Sendable {
    public let value: String
    public init(value: String) { self.value = value }
    public var description: String { "bad FUSE_PATH \"\(value)\": use auto or relay" }
}
