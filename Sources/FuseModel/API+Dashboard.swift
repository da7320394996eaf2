import Foundation

extension API {
    /// `POST /v1/dashboard/logins` (the operator): how long the login is valid.
    public struct DashboardLoginRequest: Codable, Sendable {
        public let ttlSeconds: Int
        public init(ttlSeconds: Int) { self.ttlSeconds = ttlSeconds }
    }

    /// Where the dashboard is and a login token for it (shown once; the master keeps a digest).
    public struct DashboardLogin: Codable, Sendable {
        public let url: String
        public let token: String
        public let expiresAt: Date
        public init(url: String, token: String, expiresAt: Date) {
            self.url = url
            self.token = token
            self.expiresAt = expiresAt
        }
    }

    /// `POST /dashboard/login`: a browser trades a login token for a session cookie.
    public struct DashboardLoginBody: Codable, Sendable {
        public let token: String
        public init(token: String) { self.token = token }
    }
}
