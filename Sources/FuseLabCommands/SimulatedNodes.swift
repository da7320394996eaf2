import Foundation
import FuseAgent
import FuseModel
import Synchronization

/// Joins asked again after a lost answer, over the whole bench.
let retriedJoins = Mutex(0)

/// One simulated node: a real enrolment, then what an agent does with the master — the
/// long-poll for its map (through the agent's own `RemoteMapSource`, deltas included; each
/// poll says which version is applied) and a heartbeat every 5 s — without a tunnel or a host
/// to change.
final class SimulatedNode: Sendable {
    let name: String
    let domain: String
    let publicKey: WireGuardKey
    let client: ControlPlaneClient
    let joinedMap: NetworkMap
    /// Each map version this node got, with when it arrived.
    private let versions = Mutex<[(version: Int64, at: ContinuousClock.Instant)]>([])
    private let polling = Mutex(false)
    /// The version last applied (what heartbeats report).
    private let applied: Mutex<Int64>
    private let source: RemoteMapSource
    let errors = Mutex(0)

    init(name: String, domain: String, publicKey: WireGuardKey, client: ControlPlaneClient, joinedMap: NetworkMap) {
        self.name = name
        self.domain = domain
        self.publicKey = publicKey
        self.client = client
        self.joinedMap = joinedMap
        applied = Mutex(joinedMap.version)
        source = RemoteMapSource(client: client)
    }

    /// Enrols over the API with `token`.
    static func join(name: String, domain: String, key: WireGuardKey = WireGuardKey.generatePrivate().publicKey, token: String,
                     anonymous: ControlPlaneClient) async throws -> SimulatedNode {
        // As `fuse join` does: a lost answer is asked again (idempotent by the request id),
        // here up to 10 times, 0.5 s more apart each time (a master that is short of CPU
        // closes connections whose TLS handshake and request head took longer than 10 s).
        var attempt = 0
        var joined: API.JoinResponse
        while true {
            do {
                joined = try await anonymous.join(API.JoinRequest(token: token, name: name, publicKey: key, workloads: false, requestID: name))
                break
            } catch let error as ClientError where error.status == nil && attempt < 10 {
                attempt += 1
                retriedJoins.withLock { $0 += 1 }
                try await Task.sleep(for: .milliseconds(500 * attempt))
            }
        }
        return SimulatedNode(name: name, domain: domain, publicKey: key, client: anonymous.with(credential: joined.credential), joinedMap: joined.map)
    }

    var isPolling: Bool { polling.withLock { $0 } }

    /// When this node first had a map of `version` or later.
    func arrival(of version: Int64) -> ContinuousClock.Instant? {
        versions.withLock { $0.first { $0.version >= version }?.at }
    }

    /// Long-polls and heartbeats (while `heartbeats` is on) until cancelled or removed.
    func run(heartbeats: HeartbeatSwitch) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                var version = self.joinedMap.version
                while !Task.isCancelled {
                    self.polling.withLock { $0 = true }
                    do {
                        // As the agent does: the next poll tells the master the new map is applied.
                        let map = try await self.source.map(since: version, applied: version, wait: 25)
                        guard map.version != version else { continue }
                        version = map.version
                        self.versions.withLock { $0.append((version, .now)) }
                        self.applied.withLock { $0 = version }
                    } catch is NodeRevoked {
                        return
                    } catch {
                        if Task.isCancelled { return }
                        self.errors.withLock { $0 += 1 }
                        try? await Task.sleep(for: .milliseconds(500))
                    }
                }
            }
            group.addTask {
                // Spread the heartbeats over the 5 s period, as agents started at different times do.
                try? await Task.sleep(for: .milliseconds(Int.random(in: 0..<5000)))
                while !Task.isCancelled {
                    let sent = await heartbeats.beat {
                        try? await self.client.heartbeat(API.Heartbeat(mapVersion: self.applied.withLock { $0 }, tunnelUp: true))
                    }
                    // Held: looked at again soon.
                    try? await Task.sleep(for: sent ? .seconds(5) : .milliseconds(100))
                }
            }
        }
    }
}

/// Whether the simulated nodes send heartbeats (held, a join's own cost can be told from the
/// federation's steady load).
final class HeartbeatSwitch: Sendable {
    private let state = Mutex((on: true, inFlight: 0))
    var on: Bool {
        get { state.withLock { $0.on } }
        set { state.withLock { $0.on = newValue } }
    }
    /// Heartbeats sent and not answered yet.
    var inFlight: Int { state.withLock { $0.inFlight } }

    /// Sends one heartbeat with `send` unless held; whether it was sent.
    func beat(_ send: () async -> Void) async -> Bool {
        guard state.withLock({ state in
            if state.on { state.inFlight += 1 }
            return state.on
        }) else { return false }
        await send()
        state.withLock { $0.inFlight -= 1 }
        return true
    }
}

/// The simulated nodes of one bench, each running in a task of its own until it leaves.
actor SimulatedFleet {
    private(set) var nodes: [String: SimulatedNode] = [:]
    private var tasks: [String: Task<Void, Never>] = [:]
    nonisolated let heartbeats = HeartbeatSwitch()

    func add(_ node: SimulatedNode) {
        nodes[node.name] = node
        tasks[node.name] = Task { [heartbeats] in await node.run(heartbeats: heartbeats) }
    }

    /// Stops the node's agent loops and leaves the federation.
    func leave(_ name: String) async throws {
        tasks.removeValue(forKey: name)?.cancel()
        guard let node = nodes.removeValue(forKey: name) else { return }
        try await node.client.leave()
    }

    func stopAll() {
        tasks.values.forEach { $0.cancel() }
        tasks.removeAll()
    }

    var all: [SimulatedNode] { Array(nodes.values) }
    var errorCount: Int { nodes.values.reduce(0) { $0 + $1.errors.withLock { $0 } } }
}
