import Foundation
import FuseModel
import FuseSystem
import Synchronization

/// Where the hub last saw each worker (`IP:port`, learnt by WireGuard from the worker's
/// packets), kept in the master's state dir so that a hub that restarts — the master restarted,
/// its wireguard-go killed — is given them back and speaks first: workers behind NAT would
/// otherwise be unreachable until their own session times out (15 s and more).
public final class HubEndpoints: Sendable {
    private struct State {
        var path: String?
        var endpoints: [WireGuardKey: String] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Reads the endpoints kept at `path` (none when it is missing or unreadable) and keeps
    /// them there from now on.
    public func persist(at path: String) {
        let stored = (try? Data(contentsOf: URL(fileURLWithPath: path))).flatMap { try? JSONDecoder().decode([String: String].self, from: $0) } ?? [:]
        let endpoints = Dictionary(stored.compactMap { key, value in WireGuardKey(base64: key).map { ($0, value) } }, uniquingKeysWith: { $1 })
        state.withLock { $0 = State(path: path, endpoints: endpoints) }
    }

    public var current: [WireGuardKey: String] { state.withLock { $0.endpoints } }

    /// Whether an endpoint is one of the relay's loopback sockets.
    static func isRelayed(_ endpoint: String) -> Bool { endpoint.hasPrefix("127.") }

    /// The hub's peers as its device reports them: a peer's endpoint replaces the one kept.
    /// Nothing is forgotten: a hub that has just started shows no peers, or peers without an
    /// endpoint, for a moment (a removed node's entry is never used: maps name current nodes).
    /// A relayed worker's endpoint is a loopback socket of the master's relay, which is gone
    /// after a restart: never kept (the worker's relay speaks first). Written (0600) only when
    /// something changed.
    public func record(_ peers: [(key: WireGuardKey, endpoint: String?)]) {
        let (changed, path, endpoints) = state.withLock { (state: inout State) -> (Bool, String?, [WireGuardKey: String]) in
            var next = state.endpoints
            for peer in peers {
                guard let endpoint = peer.endpoint else { continue }
                if Self.isRelayed(endpoint) { next.removeValue(forKey: peer.key) } else { next[peer.key] = endpoint }
            }
            guard next != state.endpoints else { return (false, nil, [:]) }
            state.endpoints = next
            return (true, state.path, next)
        }
        guard changed, let path else { return }
        let stored = Dictionary(uniqueKeysWithValues: endpoints.map { ($0.key.base64, $0.value) })
        if let data = try? JSONEncoder().encode(stored) { try? AtomicFile.write(data, to: path, mode: 0o600) }
    }
}
