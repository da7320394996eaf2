import Synchronization

/// The digests of the nodes' credentials, read from the store once per node instead of once
/// per request (every heartbeat and long-poll authenticates). A read that overlapped the
/// node's removal is not kept: a removed node's credential never lingers here.
final class CredentialDigests: Sendable {
    private struct State {
        /// By lowercased name (names compare without case, as in the store): the name as
        /// spelled when it was read, and its digest.
        var digests: [String: (node: String, digest: String)] = [:]
        /// Raised by every removal.
        var generation = 0
    }
    private let state = Mutex(State())

    /// The digest of `node`'s credential (spelled exactly as issued), from memory or `read`.
    func digest(of node: String, read: () async throws -> String?) async throws -> String? {
        let (cached, generation) = state.withLock { ($0.digests[node.lowercased()], $0.generation) }
        if let cached, cached.node == node { return cached.digest }
        guard let digest = try await read() else { return nil }
        state.withLock { if $0.generation == generation { $0.digests[node.lowercased()] = (node, digest) } }
        return digest
    }

    /// A join (or a repeated one) gave `node` a new credential.
    func set(_ digest: String, of node: String) {
        state.withLock { $0.digests[node.lowercased()] = (node, digest) }
    }

    /// `node` left or was removed (names compare without case, as in the store).
    func forget(_ node: String) {
        state.withLock { state in
            state.digests.removeValue(forKey: node.lowercased())
            state.generation += 1
        }
    }
}
