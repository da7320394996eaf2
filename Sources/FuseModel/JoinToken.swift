import Foundation

/// A join token as the master stores it: the secret only as a digest.
public struct JoinToken: Codable, Equatable, Sendable {
    public let id: String
    public let secretDigest: String
    public let domain: String
    public let createdAt: Date
    public let expiresAt: Date
    public let maxUses: Int
    public var uses: Int
    public var revoked: Bool

    public init(id: String, secretDigest: String, domain: String, createdAt: Date, expiresAt: Date, maxUses: Int, uses: Int = 0, revoked: Bool = false) {
        self.id = id
        self.secretDigest = secretDigest
        self.domain = domain
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.maxUses = maxUses
        self.uses = uses
        self.revoked = revoked
    }

    public enum State: String, Codable, Sendable {
        case valid, expired, revoked, used
    }

    public func state(at now: Date) -> State {
        if revoked { return .revoked }
        if now >= expiresAt { return .expired }
        if uses >= maxUses { return .used }
        return .valid
    }

    /// Whether `secret` is this token's secret; constant time in the secret's content.
    public func matches(secret: String) -> Bool {
        Secret.constantTimeEquals(Secret.digest(secret), secretDigest)
    }

    /// A new token and its secret, which is shown once and never stored.
    public static func issue(domain: String, ttl: Duration, maxUses: Int, now: Date) -> (token: JoinToken, secret: String) {
        let secret = Secret.random(bytes: 32)
        let seconds = ttl.inSeconds
        let token = JoinToken(
            id: Secret.identifier(bytes: 6), secretDigest: Secret.digest(secret), domain: domain,
            createdAt: now, expiresAt: now.addingTimeInterval(seconds), maxUses: maxUses)
        return (token, secret)
    }
}

/// Durations people type: `90s`, `15m`, `2h`, `1d`, or a combination like `1h30m`.
public enum DurationText {
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public static func parse(_ text: String) throws -> Duration {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var total: Int64 = 0, number = "", sawUnit = false
        for c in text {
            if c.isASCII, c.isNumber { number.append(c); continue }
            guard let unit = units[c], let n = Int64(number), n <= 1_000_000 else {
                throw Invalid(description: "bad duration \"\(text)\": use e.g. 90s, 15m, 2h, 1d")
            }
            total += n * unit
            number = ""
            sawUnit = true
        }
        guard number.isEmpty, sawUnit, total > 0 else {
            throw Invalid(description: "bad duration \"\(text)\": use e.g. 90s, 15m, 2h, 1d")
        }
        return .seconds(total)
    }
}
