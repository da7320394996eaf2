import Foundation

/// The dashboard's logins: `fuse dashboard` issues a login token (valid for a while, usable by
/// several browsers until then); a browser trades it for a session, kept in an HttpOnly cookie,
/// that ends with the token. Only SHA-256 digests are kept, and at most `limit` of each.
/// A value type: the control plane keeps it behind a lock.
public struct DashboardLogins: Sendable {
    public static let tokenPrefix = "fdl_"
    public static let limit = 1000

    private var tokens: [String: Date] = [:]
    private var sessions: [String: Date] = [:]

    public init() {}

    /// A new login token and when it expires.
    public mutating func issue(ttl: TimeInterval, now: Date) -> (token: String, expires: Date) {
        prune(now)
        let token = Self.tokenPrefix + Secret.random(bytes: 24)
        let expires = now.addingTimeInterval(ttl)
        if tokens.count >= Self.limit, let oldest = tokens.min(by: { $0.value < $1.value })?.key { tokens.removeValue(forKey: oldest) }
        tokens[Secret.digest(token)] = expires
        return (token, expires)
    }

    /// A session secret for a valid login token, or nil (unknown, malformed or expired).
    public mutating func login(token: String, now: Date) -> (session: String, expires: Date)? {
        prune(now)
        guard token.hasPrefix(Self.tokenPrefix), token.count <= 100, let expires = tokens[Secret.digest(token)] else { return nil }
        let session = Secret.random(bytes: 32)
        if sessions.count >= Self.limit, let oldest = sessions.min(by: { $0.value < $1.value })?.key { sessions.removeValue(forKey: oldest) }
        sessions[Secret.digest(session)] = expires
        return (session, expires)
    }

    public func isValid(session: String, now: Date) -> Bool {
        guard session.count <= 100, let expires = sessions[Secret.digest(session)] else { return false }
        return expires > now
    }

    public mutating func logout(session: String) {
        sessions.removeValue(forKey: Secret.digest(session))
    }

    private mutating func prune(_ now: Date) {
        tokens = tokens.filter { $0.value > now }
        sessions = sessions.filter { $0.value > now }
    }
}
