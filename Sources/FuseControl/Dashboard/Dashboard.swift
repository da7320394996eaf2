import Foundation
import FuseModel
import Hummingbird
import Synchronization

/// The master's dashboard state: logins, the live streams, what the monitor last measured
/// (tunnels, round trips, tasks) and the API's request counts.
public final class Dashboard: Sendable {
    /// The session cookie (HttpOnly, Secure, SameSite=Strict).
    static let cookie = "fuse_dashboard"

    let logins = Mutex(DashboardLogins())
    let streams = StreamHub()
    let monitor = Mutex(MonitorSample())
    let requests = Mutex(RequestMetrics())

    public init() {}

    /// What `FederationMonitor` measured last.
    struct MonitorSample: Sendable {
        var peers: [WireGuardKey: WireGuardPeerStats] = [:]
        var roundTrips: [String: Double] = [:]
        var tasks: [String: [String]] = [:]
    }

    func hasSession(_ request: Request, now: Date) -> Bool {
        guard let session = request.cookies[Self.cookie]?.value else { return false }
        return logins.withLock { $0.isValid(session: session, now: now) }
    }

    func requireSession(_ request: Request, now: Date) throws {
        guard hasSession(request, now: now) else {
            throw DashboardError.notLoggedIn
        }
    }

    /// Ends viewers and live pushes (the master is stopping).
    func close() async { await streams.close() }
}
