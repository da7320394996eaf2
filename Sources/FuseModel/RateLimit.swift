import Foundation

/// A token bucket: up to `capacity` events at once, refilled at `perSecond`. Pure (the caller
/// passes the time), so that limits are tested without sleeping.
public struct TokenBucket: Equatable, Sendable {
    public let capacity: Double
    public let perSecond: Double
    private(set) var tokens: Double
    private(set) var updated: Date

    public init(capacity: Double, perSecond: Double, now: Date) {
        self.capacity = capacity
        self.perSecond = perSecond
        self.tokens = capacity
        self.updated = now
    }

    mutating func refill(_ now: Date) {
        tokens = min(capacity, tokens + max(0, now.timeIntervalSince(updated)) * perSecond)
        updated = now
    }

    /// Whether one event may happen now (without spending it).
    public mutating func allows(at now: Date) -> Bool {
        refill(now)
        return tokens >= 1
    }

    /// Spends one event; false when the bucket was empty.
    @discardableResult
    public mutating func spend(at now: Date) -> Bool {
        refill(now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Seconds until the next event is allowed (0 when it is now).
    public func wait(at now: Date) -> TimeInterval {
        var copy = self
        copy.refill(now)
        return copy.tokens >= 1 ? 0 : (1 - copy.tokens) / perSecond
    }

    var isFull: Bool { tokens >= capacity }
}

/// One token bucket per key (a source address, a token id), created full on first use. Full
/// buckets are forgotten once there are many keys, so memory stays bounded by the keys that
/// are being limited right now.
public struct KeyedRateLimit<Key: Hashable & Sendable>: Sendable {
    public let capacity: Double
    public let perSecond: Double
    public let maxKeys: Int
    private var buckets: [Key: TokenBucket] = [:]

    public init(capacity: Double, perSecond: Double, maxKeys: Int = 10_000) {
        self.capacity = capacity
        self.perSecond = perSecond
        self.maxKeys = maxKeys
    }

    public mutating func allows(_ key: Key, at now: Date) -> Bool {
        buckets[key]?.allows(at: now) ?? true
    }

    public mutating func spend(_ key: Key, at now: Date) {
        if buckets[key] == nil {
            if buckets.count >= maxKeys { prune(now) }
            buckets[key] = TokenBucket(capacity: capacity, perSecond: perSecond, now: now)
        }
        buckets[key]?.spend(at: now)
    }

    public func wait(_ key: Key, at now: Date) -> TimeInterval {
        buckets[key]?.wait(at: now) ?? 0
    }

    /// How many keys are tracked (tests check the bound).
    public var count: Int { buckets.count }

    private mutating func prune(_ now: Date) {
        for key in Array(buckets.keys) {
            buckets[key]?.refill(now)
            if buckets[key]?.isFull == true { buckets.removeValue(forKey: key) }
        }
        // Still full of limited keys: forget the oldest half rather than grow without bound.
        if buckets.count >= maxKeys {
            let oldest = buckets.sorted { $0.value.updated < $1.value.updated }.prefix(buckets.count / 2).map(\.key)
            oldest.forEach { buckets.removeValue(forKey: $0) }
        }
    }
}
