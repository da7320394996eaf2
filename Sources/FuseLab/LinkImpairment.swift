import Foundation

// What a WAN link does to packets, and how the forwarder decides each packet's fate. Pure:
// no clock, no randomness source of its own, no I/O — so every rule is tested exactly.

/// The impairment of one router link of the WAN. Delay and jitter are round-trip figures,
/// split evenly over the two directions (a 100 ms link adds 100 ms to every ping that
/// crosses it, as netem on one side would); loss and rate apply to each direction on its own.
public struct LinkImpairment: Codable, Sendable, Equatable, CustomStringConvertible {
    /// Added round-trip time, seconds.
    public var delay: Double
    /// Round-trip jitter, seconds: each direction's delay varies uniformly by ± jitter / 2.
    /// Packets are never reordered (a later packet never leaves before an earlier one).
    public var jitter: Double
    /// Probability (0…1) that a packet is dropped, per packet and direction.
    public var loss: Double
    /// Rate cap per direction in bit/s (a token bucket); nil: no cap.
    public var rate: Double?

    public init(delay: Double = 0, jitter: Double = 0, loss: Double = 0, rate: Double? = nil) {
        self.delay = delay
        self.jitter = jitter
        self.loss = loss
        self.rate = rate
    }

    public static let none = LinkImpairment()

    public var description: String {
        var parts = ["delay \(Self.milliseconds(delay))"]
        if jitter > 0 { parts.append("jitter \(Self.milliseconds(jitter))") }
        parts.append("loss \(BenchReport.number(loss * 100)) %")
        parts.append("rate " + (rate.map(Self.rateText) ?? "unlimited"))
        return parts.joined(separator: ", ")
    }

    static func milliseconds(_ seconds: Double) -> String { BenchReport.number(seconds * 1000) + " ms" }

    static func rateText(_ bits: Double) -> String {
        switch bits {
        case 1e9...: BenchReport.number(bits / 1e9) + " Gbit/s"
        case 1e6...: BenchReport.number(bits / 1e6) + " Mbit/s"
        case 1e3...: BenchReport.number(bits / 1e3) + " kbit/s"
        default: BenchReport.number(bits) + " bit/s"
        }
    }

    /// Checks the ranges: delay and jitter 0–10 s, jitter at most twice the delay (no negative
    /// one-way delay on average), loss 0–100 %, rate at least 8 kbit/s.
    public func validate() throws {
        guard (0...10).contains(delay) else { throw LabError("delay must be 0 to 10 s, not \(Self.milliseconds(delay))") }
        guard (0...10).contains(jitter) else { throw LabError("jitter must be 0 to 10 s, not \(Self.milliseconds(jitter))") }
        guard (0...1).contains(loss) else { throw LabError("loss must be 0 to 100 %, not \(BenchReport.number(loss * 100)) %") }
        if let rate, !(rate >= 8000 && rate.isFinite) { throw LabError("rate must be at least 8kbit, not \(Self.rateText(rate))") }
    }

    // MARK: - Parsing (the command line's units, as tc writes them)

    /// "100ms", "0.1s", "250us", "0" → seconds.
    public static func parseDuration(_ text: String) throws -> Double {
        let units: [(String, Double)] = [("ms", 1e-3), ("us", 1e-6), ("µs", 1e-6), ("s", 1)]
        let lower = text.trimmingCharacters(in: .whitespaces).lowercased()
        if lower == "0" { return 0 }
        for (unit, scale) in units where lower.hasSuffix(unit) {
            if let value = Double(lower.dropLast(unit.count)), value >= 0, value.isFinite { return value * scale }
        }
        throw LabError("invalid duration '\(text)': use a number with ms, s or us (e.g. 100ms)")
    }

    /// "5%", "5", "0.2%" → 0.05, 0.05, 0.002.
    public static func parsePercent(_ text: String) throws -> Double {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let number = trimmed.hasSuffix("%") ? String(trimmed.dropLast()) : trimmed
        guard let value = Double(number), (0...100).contains(value) else {
            throw LabError("invalid loss '\(text)': use a percentage from 0 to 100 (e.g. 5%)")
        }
        return value / 100
    }

    /// "20mbit", "500kbit", "1gbit", "64000bit", "20Mbit/s" → bit/s (tc's units; decimal
    /// multiples). tc's "mbps" means megabytes per second, so byte units are refused.
    public static func parseRate(_ text: String) throws -> Double {
        var lower = text.trimmingCharacters(in: .whitespaces).lowercased()
        if lower.hasSuffix("/s") { lower.removeLast(2) }
        let units: [(String, Double)] = [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1)]
        for (unit, scale) in units where lower.hasSuffix(unit) {
            if let value = Double(lower.dropLast(unit.count)), value > 0, value.isFinite { return value * scale }
        }
        throw LabError("invalid rate '\(text)': use a number with bit, kbit, mbit or gbit (e.g. 20mbit)")
    }
}

/// A small, fast pseudo-random generator (SplitMix64): the forwarder draws one number per
/// packet, and tests replay a seed.
public struct SplitMix64: Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
}

/// A token bucket in nanoseconds: `rate` bytes per second, `burst` bytes deep. It tells when a
/// packet may leave; packets leave in arrival order.
public struct TokenBucket: Sendable, Equatable {
    public let bytesPerSecond: Double
    public let burst: Double
    /// Tokens (bytes) at `time`; `time` may lie ahead of now (the last packet's departure).
    private(set) var tokens: Double
    private(set) var time: UInt64

    public init(bitsPerSecond: Double, burst: Double? = nil, now: UInt64 = 0) {
        bytesPerSecond = bitsPerSecond / 8
        // Enough for a couple of full-size packets, or 2 ms of the rate.
        self.burst = burst ?? Swift.max(3028, bytesPerSecond * 0.002)
        tokens = self.burst
        time = now
    }

    /// The departure time (ns) of a packet of `bytes` that arrives at `now`, or nil when it
    /// would wait longer than `limit` ns (a full queue: the packet is dropped and costs nothing).
    public mutating func departure(bytes: Int, now: UInt64, limit: UInt64) -> UInt64? {
        let start = Swift.max(now, time)
        var available = Swift.min(burst, tokens + Double(start - time) / 1e9 * bytesPerSecond)
        var leave = start
        let size = Double(bytes)
        if available < size {
            leave = start + UInt64(((size - available) / bytesPerSecond * 1e9).rounded(.up))
            available = size
        }
        guard leave - now <= limit else { return nil }
        tokens = available - size
        time = leave
        return leave
    }
}

/// One direction of an impaired link: decides per packet whether it is lost, dropped because
/// the rate's queue is full, or when it leaves.
public struct DirectionSchedule: Sendable {
    public enum Fate: Equatable, Sendable {
        case lost
        case queueFull
        case release(at: UInt64)
    }

    public private(set) var impairment: LinkImpairment
    private var bucket: TokenBucket?
    private var lastRelease: UInt64 = 0
    private var random: SplitMix64
    /// How long a packet may wait for the rate's tokens (ns), as tbf's `latency`.
    public let queueLimit: UInt64

    public init(_ impairment: LinkImpairment, seed: UInt64, queueLimit: UInt64 = 50_000_000, now: UInt64 = 0) {
        self.impairment = impairment
        random = SplitMix64(seed: seed)
        self.queueLimit = queueLimit
        bucket = impairment.rate.map { TokenBucket(bitsPerSecond: $0, now: now) }
    }

    /// Changes the impairment at run time; packets already scheduled keep their times.
    public mutating func update(_ new: LinkImpairment, now: UInt64) {
        if new.rate != impairment.rate { bucket = new.rate.map { TokenBucket(bitsPerSecond: $0, now: now) } }
        impairment = new
    }

    public mutating func fate(bytes: Int, now: UInt64) -> Fate {
        if impairment.loss > 0, random.unit() < impairment.loss { return .lost }
        var leave = now
        if bucket != nil {
            guard let departure = bucket?.departure(bytes: bytes, now: now, limit: queueLimit) else { return .queueFull }
            leave = departure
        }
        var oneWay = impairment.delay / 2
        if impairment.jitter > 0 { oneWay += (random.unit() - 0.5) * impairment.jitter }
        let release = Swift.max(leave + UInt64((Swift.max(oneWay, 0) * 1e9).rounded()), lastRelease)
        lastRelease = release
        return .release(at: release)
    }
}
