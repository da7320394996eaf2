import Foundation
import FuseModel
import NIOCore
import Synchronization

/// Hands out network maps at scale: one federation snapshot per version (built when the store
/// changes, never per request), the changes since the version a node has instead of its whole
/// map, each distinct delta encoded once per version, and wake-ups only for the nodes whose
/// map a change touches.
final class MapDistribution: Sendable {
    /// A new version, and the nodes whose map it may change (nil: every node).
    struct Change: Sendable {
        let version: Int64
        let nodes: Set<String>?
    }

    private struct State {
        var snapshot: FederationSnapshot
        /// The map each node was last given: the base of its next delta.
        var sent: [String: NetworkMap] = [:]
        /// The current version's encoded deltas, by content.
        var encoded: [MapDelta: ByteBuffer] = [:]
    }

    private let state: Mutex<State>
    let watch: NodeMapWatch
    /// Held while a snapshot is built: one build at a time, without a hop to another actor.
    private let building = Mutex(())

    init(_ snapshot: FederationSnapshot) {
        state = Mutex(State(snapshot: snapshot))
        watch = NodeMapWatch(version: snapshot.version)
    }

    var current: FederationSnapshot { state.withLock { $0.snapshot } }

    /// Builds (from the current one) and installs the snapshot for `wanted` unless one at
    /// least as new is in place; changes that land together share one build.
    func refresh(wanted: Int64, build: (FederationSnapshot) throws -> FederationSnapshot) throws -> Change? {
        try building.withLock { _ in
            let current = current
            guard current.version < wanted else { return nil }
            return install(try build(current))
        }
    }

    /// Installs `snapshot` when it is newer than the current one; returns what it changed.
    func install(_ snapshot: FederationSnapshot) -> Change? {
        state.withLock { state in
            guard snapshot.version > state.snapshot.version else { return nil }
            let nodes = snapshot.changedNodes(since: state.snapshot)
            state.snapshot = snapshot
            state.encoded = [:]
            return Change(version: snapshot.version, nodes: nodes)
        }
    }

    /// The node's map from the current snapshot, recorded as given to it.
    func map(for node: String) -> NetworkMap? {
        let (snapshot, base) = state.withLock { ($0.snapshot, $0.sent[node]) }
        guard let map = Self.map(for: node, in: snapshot, given: base) else { return nil }
        state.withLock { $0.sent[node] = map }
        return map
    }

    /// The node's map at the snapshot's version: the one it was given when that is of this
    /// version already (the hub asks every 2 s, and its map lists every node), else computed.
    private static func map(for node: String, in snapshot: FederationSnapshot, given base: NetworkMap?) -> NetworkMap? {
        if let base, base.version == snapshot.version { return base }
        return snapshot.map(for: node)
    }

    /// The node's update, encoded: the changes since `since` when that is the map it was last
    /// given, else (or with `full`) its whole map. nil for a node not in the federation.
    func update(for node: String, since: Int64, full: Bool) throws -> ByteBuffer? {
        let (snapshot, base) = state.withLock { ($0.snapshot, $0.sent[node]) }
        guard let map = Self.map(for: node, in: snapshot, given: base) else { return nil }
        state.withLock { $0.sent[node] = map }
        guard !full, let base, base.version == since else { return try Self.encode(.full(map)) }
        let delta = MapDelta(from: base, to: map)
        if let cached = state.withLock({ $0.snapshot.version == snapshot.version ? $0.encoded[delta] : nil }) { return cached }
        let encoded = try Self.encode(.delta(delta))
        state.withLock { if $0.snapshot.version == snapshot.version { $0.encoded[delta] = encoded } }
        return encoded
    }

    func forget(_ node: String) async {
        _ = state.withLock { $0.sent.removeValue(forKey: node) }
        await watch.forget(node)
    }

    private static func encode(_ update: MapUpdate) throws -> ByteBuffer {
        ByteBuffer(bytes: try API.encoder().encode(update))
    }
}

/// Long-polls that wait for a change of their own node's map.
actor NodeMapWatch {
    /// The last version that changed every node's map.
    private var everyone: Int64
    private var changedAt: [String: Int64] = [:]
    private var waiters: [String: [UUID: (since: Int64, continuation: CheckedContinuation<Void, Never>)]] = [:]
    private var closed = false

    init(version: Int64) { everyone = version }

    /// The version at which `node`'s map last changed.
    func due(_ node: String) -> Int64 { max(everyone, changedAt[node] ?? 0) }

    /// Every node's due version at once: (the version for all, the later ones by node).
    func dues() -> (everyone: Int64, nodes: [String: Int64]) { (everyone, changedAt) }

    func publish(_ change: MapDistribution.Change) {
        if let nodes = change.nodes {
            for node in nodes {
                changedAt[node] = max(changedAt[node] ?? 0, change.version)
                wake(node)
            }
        } else {
            everyone = max(everyone, change.version)
            for node in Array(waiters.keys) { wake(node) }
        }
    }

    /// Returns when `node`'s map changed after `since`, or after `timeout`.
    func wait(_ node: String, since: Int64, timeout: Duration) async {
        guard due(node) <= since, !closed else { return }
        let id = UUID()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(for: timeout)
                await self.end(node, id)
            }
            await withCheckedContinuation { continuation in
                if due(node) > since || closed { continuation.resume() } else { waiters[node, default: [:]][id] = (since, continuation) }
            }
            group.cancelAll()
        }
    }

    func forget(_ node: String) {
        changedAt.removeValue(forKey: node)
        // A removed node's polls end now (they answer 401).
        waiters.removeValue(forKey: node)?.values.forEach { $0.continuation.resume() }
    }

    /// Ends every wait now and every later one at once (shutdown).
    func close() {
        closed = true
        let all = waiters
        waiters.removeAll()
        all.values.forEach { $0.values.forEach { $0.continuation.resume() } }
    }

    var waiting: Int { waiters.values.reduce(0) { $0 + $1.count } }

    private func wake(_ node: String) {
        guard let list = waiters[node] else { return }
        let due = due(node)
        var left = list
        for (id, waiter) in list where due > waiter.since {
            left.removeValue(forKey: id)
            waiter.continuation.resume()
        }
        waiters[node] = left.isEmpty ? nil : left
    }

    private func end(_ node: String, _ id: UUID) {
        guard let waiter = waiters[node]?.removeValue(forKey: id) else { return }
        if waiters[node]?.isEmpty == true { waiters[node] = nil }
        waiter.continuation.resume()
    }
}
