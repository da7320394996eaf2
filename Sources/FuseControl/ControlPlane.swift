import Foundation
import FuseModel
import FuseSystem
import Logging
import NIOCore
import Synchronization

/// Lets long-polling agents wait for the next network-map version.
actor MapVersionWatch {
    private var version: Int64
    private var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]

    init(version: Int64) { self.version = version }

    func publish(_ newVersion: Int64) {
        guard newVersion > version else { return }
        version = newVersion
        let ready = waiters
        waiters.removeAll()
        ready.values.forEach { $0.resume() }
    }

    /// Returns when the version is above `since` or after `timeout`, whichever comes first.
    func wait(since: Int64, timeout: Duration) async {
        guard version <= since, !closed else { return }
        let id = UUID()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(for: timeout)
                await self.wake(id)
            }
            await withCheckedContinuation { continuation in
                if version > since { continuation.resume() } else { waiters[id] = continuation }
            }
            group.cancelAll()
        }
    }

    private func wake(_ id: UUID) {
        waiters.removeValue(forKey: id)?.resume()
    }

    /// Ends every wait now and every later one at once (shutdown: long-polls must not hold
    /// the server open).
    func close() {
        closed = true
        let ready = waiters
        waiters.removeAll()
        ready.values.forEach { $0.resume() }
    }
    private var closed = false

    var current: Int64 { version }
    /// How many long-polls are waiting (tests wait for one to be parked).
    var waiting: Int { waiters.count }
}

/// When each node was last heard from (heartbeats and map polls).
actor Presence {
    private var lastSeen: [String: Date] = [:]
    private var applied: [String: Int64] = [:]
    private var lastPaths: [String: TunnelPath] = [:]
    func saw(_ node: String, at date: Date) { lastSeen[node] = date }
    /// A worker's path to the hub as its heartbeats report it.
    func path(_ node: String, _ path: TunnelPath) { lastPaths[node] = path }
    func paths() -> [String: TunnelPath] { lastPaths }
    func lastSeen(_ node: String) -> Date? { lastSeen[node] }
    /// The network-map version a node last reported as applied to its host.
    func applied(_ node: String, version: Int64) { applied[node] = version }
    func applied(_ node: String) -> Int64? { applied[node] }
    func forget(_ node: String) {
        lastSeen.removeValue(forKey: node)
        applied.removeValue(forKey: node)
        lastPaths.removeValue(forKey: node)
    }
    /// Both tables at once (one hop for all nodes instead of two per node).
    func snapshot() -> (lastSeen: [String: Date], applied: [String: Int64]) { (lastSeen, applied) }
}

/// The master's logic, independent of HTTP: joins, maps, tokens, presence.
public final class ControlPlane: Sendable {
    /// The federation's settings; only the endpoint changes while the master runs
    /// (`setEndpoint`).
    public var config: MasterConfig { settings.withLock { $0 } }
    let settings: Mutex<MasterConfig>
    /// Where changed settings are written (the master's config.json); nil: kept in memory.
    let settingsFiles = Mutex<MasterState?>(nil)
    public let caPin: String
    public let caPEM: String
    let store: any FederationStore
    let now: @Sendable () -> Date
    let watch: MapVersionWatch
    /// Snapshots, deltas and per-node wake-ups (`GET /v1/map/updates`).
    let distribution: MapDistribution
    /// The map version that the hub (the master's own agent) has applied.
    let hubApplied = MapVersionWatch(version: 0)
    let presence = Presence()
    let joinLimits: JoinLimits
    /// At most 16 joins enrol at once; up to 1,024 more wait, the rest get "busy".
    let joinAdmission = JoinAdmission(limit: 16, queueLimit: 1024)
    /// Builds and publishes the snapshot after changes, one build for a burst of them.
    let snapshots = CoalescedWork()
    /// Credential digests read once per node, not once per request.
    let credentials = CredentialDigests()
    /// `name.domain.fuse` → VPN address, for the DNS responder.
    let names = NameTable()
    let logger: Logger
    /// The Swarm manager, when the federation runs workloads.
    let swarm: (any SwarmControl)?
    /// The master's engine and registry for the operator's deployments.
    let workloads: (any WorkloadEngine)?
    /// Logins, live streams and measurements of the operator's dashboard.
    public let dashboard = Dashboard()
    /// Where the hub last saw each worker, given back to a restarted hub.
    public let hubEndpoints = HubEndpoints()
    /// Carries the WireGuard datagrams of nodes whose domains block UDP (`POST /v1/relay`).
    public let relay: HubRelay
    /// A node is online when it was heard from within this many seconds (agents send a
    /// heartbeat every 5 s).
    public static let onlineWindow: TimeInterval = 15
    /// How long the nodes' wake-ups after a change wait for the hub to apply it first.
    let hubHeadStart: Duration

    public init(config: MasterConfig, store: any FederationStore, caPEM: String, caPin: String, logger: Logger, swarm: (any SwarmControl)? = nil,
                workloads: (any WorkloadEngine)? = nil, hubHeadStart: Duration = .milliseconds(250), now: @escaping @Sendable () -> Date = Date.init) throws {
        self.settings = Mutex(config)
        self.store = store
        self.caPEM = caPEM
        self.caPin = caPin
        self.logger = logger
        self.now = now
        self.hubHeadStart = hubHeadStart
        self.swarm = swarm
        self.workloads = workloads
        self.relay = HubRelay(hubPort: Int(config.wireGuardPort))
        self.joinLimits = JoinLimits(now: now())
        let snapshot = try Self.snapshot(store: store, config: config)
        self.watch = MapVersionWatch(version: snapshot.version)
        self.distribution = MapDistribution(snapshot)
    }

    /// The federation as the store holds it now, ready to compute every node's map.
    static func snapshot(store: any FederationStore, config: MasterConfig) throws -> FederationSnapshot {
        let stored = try store.federation()
        let policy = try stored.policy.map { try Policy.parse($0.text) } ?? Policy.defaultPolicy(masterDomain: config.domain)
        return FederationSnapshot(version: stored.version, nodes: stored.nodes, exposures: stored.exposures, policy: policy, facts: config.facts)
    }

    /// The snapshot of the store at `wanted` or later, after `current`: `current` with the
    /// changes this process made since when they lead there and are joins and leaves (work
    /// bounded by the change, not by the federation), else read from the store.
    static func snapshot(after current: FederationSnapshot, wanted: Int64, store: any FederationStore, config: MasterConfig) throws -> FederationSnapshot {
        if let (version, changes) = store.changes(after: current.version), version >= wanted, let next = current.applying(changes, version: version) {
            return next
        }
        return try snapshot(store: store, config: config)
    }

    /// Store work, on the database threads (`BlockingWork.database`), never on the cooperative pool.
    func stored<T: Sendable>(_ body: @escaping @Sendable (any FederationStore) throws -> T) async throws -> T {
        let store = self.store
        return try await BlockingWork.database { try body(store) }
    }

    /// After every change of the store: a new snapshot, shared by the changes that land while
    /// one is built (a burst of joins), then the long-polls of the nodes it touches wake.
    func changed() async throws {
        try await snapshots.run { try await self.publishSnapshot() }
    }

    /// One snapshot of the store as it is now, built on a database thread, then published.
    private func publishSnapshot() async throws {
        let (distribution, config) = (self.distribution, self.config)
        guard let change = try await stored({ store in
            let wanted = try store.mapVersion()
            return try distribution.refresh(wanted: wanted) { current in try Self.snapshot(after: current, wanted: wanted, store: store, config: config) }
        }) else { return }
        await publish(change, hubFirst: true)
    }

    /// Wakes the long-polls that `change` concerns. `hubFirst`: the hub first (its agent polls
    /// `watch`): a node's new map is of use once the hub forwards as it says, a join is
    /// answered once the hub has the newcomer's peer, and at 2,000 nodes a change that wakes
    /// them all otherwise left the hub's cycle queued behind 2,000 answers. The others are
    /// woken once it applied the version, or after `hubHeadStart`.
    private func publish(_ change: MapDistribution.Change, hubFirst: Bool) async {
        await watch.publish(change.version)
        if hubFirst, await hubApplied.current > 0 { await hubApplied.wait(since: change.version - 1, timeout: hubHeadStart) }
        await distribution.watch.publish(change)
    }

    /// The current snapshot, brought up to the store first when this process made a newer
    /// version (a change whose own publication is still on its way, or failed); what that
    /// installs is published here (the change's own publication then finds nothing to do, and
    /// its long-polls would otherwise sleep on). Without a database read when this process
    /// made no newer version: the hub's poll after each change must not queue behind a burst
    /// of joins' writes for a database thread. No hub head start: the hub itself asks here.
    func currentSnapshot() async throws -> FederationSnapshot {
        let (distribution, config) = (self.distribution, self.config)
        if let made = store.latestVersionMade(), made <= distribution.current.version { return distribution.current }
        let installed = try await stored { store -> MapDistribution.Change? in
            let snapshot = distribution.current, wanted = try store.mapVersion()
            guard wanted > snapshot.version else { return nil }
            return distribution.install(try Self.snapshot(after: snapshot, wanted: wanted, store: store, config: config))
        }
        if let installed { await publish(installed, hubFirst: false) }
        return distribution.current
    }

    // MARK: Nodes

    /// Enrols a node. `source` is the caller's address (refused attempts are limited per source).
    public func join(_ request: API.JoinRequest, source: String? = nil) async throws -> API.JoinResponse {
        let source = source ?? "unknown"
        let tokenID = NameRule.echo(String(request.token.prefix { $0 != "." }))
        if let wait = joinLimits.wait(source: source, tokenID: tokenID, now: now()) {
            throw JoinError.tooManyRefusals(source: source, retryAfterSeconds: Int(wait.rounded(.up)))
        }
        let name: String
        do { name = try NameRule.label(request.name, kind: "node") } catch { throw JoinError.invalidName("\(error)") }
        let parts = request.token.split(separator: ".", omittingEmptySubsequences: false)
        let secret = Secret.random(bytes: 32)
        let digest = Secret.digest(secret)
        // The store's write, a bounded number of joins at a time; the snapshot and the wait for
        // the hub are outside (joins that land together share one build and one hub cycle).
        let (node, version) = try await joinAdmission.admitted {
            try await self.enrol(request, name: name, parts: parts, digest: digest, source: source, tokenID: tokenID)
        }
        try await changed()
        credentials.set(digest, of: node.name)
        logger.info("node joined", metadata: ["node": "\(node.name)", "domain": "\(node.domain)", "address": "\(node.address)"])
        // Answer once the hub knows the new peer: a handshake that reaches the hub before
        // would be dropped, and WireGuard would retry only after 5 s.
        // (Only when a hub agent reports: an API without one, as in tests, has nothing to wait for.)
        if await hubApplied.current > 0 {
            await hubApplied.wait(since: version - 1, timeout: .seconds(2))
        }
        await presence.saw(node.name, at: now())
        guard let map = try await map(for: node.name) else { throw JoinError.noMap }
        return API.JoinResponse(credential: "\(node.name).\(secret)", map: map)
    }

    /// The store's part of a join: the registered node and the version it made (or a later
    /// one, read before other joins move it on). Refusals are logged here.
    private func enrol(_ request: API.JoinRequest, name: String, parts: [Substring], digest: String, source: String, tokenID: String)
        async throws -> (NodeRecord, Int64) {
        let (cidr, engineRange, requestID, date) = (config.cidr, request.workloads == true ? config.engineCIDR : nil, request.requestID.map(NameRule.echo), now())
        do {
            guard parts.count == 2, request.token.count <= 200 else { throw JoinRefusal.invalidToken }
            let (tokenPart, secretPart) = (String(parts[0]), String(parts[1]))
            return try await stored { store in
                let node = try store.join(tokenID: tokenPart, secret: secretPart, name: name, publicKey: request.publicKey, credentialDigest: digest, cidr: cidr,
                                          engineRange: engineRange, requestID: requestID, now: date)
                return (node, try store.mapVersion())
            }
        } catch let refusal as JoinRefusal {
            switch refusal {
            case .nameTaken, .nameTakenByExposure, .keyTaken:
                logger.notice("join refused", metadata: ["node": "\(name)", "reason": "\(refusal)"])
                throw refusal
            case .exhausted:
                logger.error("join refused", metadata: ["node": "\(name)", "reason": "\(refusal)"])
                throw refusal
            case .invalidToken:
                // Unknown id or wrong secret: what guessing looks like. Limited and sparsely logged.
                let (log, unlogged) = joinLimits.refused(source: source, tokenID: tokenID, now: now())
                if log {
                    logger.notice("join refused", metadata: ["node": "\(name)", "source": "\(source)", "reason": "\(refusal)",
                                                             "unlogged": "\(unlogged)"])
                }
                throw refusal
            default:
                // The right secret of a token that expired, was revoked or is used up.
                logger.notice("join refused", metadata: ["node": "\(name)", "reason": "\(refusal)"])
                throw refusal
            }
        }
    }

    public func map(for node: String) async throws -> NetworkMap? {
        _ = try await currentSnapshot()
        guard let map = distribution.map(for: node) else { return nil }
        return map.isHub ? map.withLastEndpoints(hubEndpoints.current, keepalive: config.facts.keepalive) : map
    }

    /// The node's update (`GET /v1/map/updates`), encoded, once its map changed after `since`
    /// or after `wait`: the changes since `since` if that is the version it was last given,
    /// else (or with `full`) its whole map.
    public func mapUpdate(for node: String, since: Int64, applied: Int64? = nil, wait: Duration, full: Bool) async throws -> ByteBuffer {
        await heartbeat(node, appliedVersion: applied)
        await distribution.watch.wait(node, since: since, timeout: wait)
        guard let update = try distribution.update(for: node, since: since, full: full) else {
            throw NodeError.notInFederation(node)
        }
        return update
    }

    /// The node's map once its version is above `since`, or the current one after `wait`.
    public func map(for node: String, since: Int64, applied: Int64? = nil, wait: Duration) async throws -> NetworkMap {
        await heartbeat(node, appliedVersion: applied)
        await watch.wait(since: since, timeout: wait)
        guard let map = try await map(for: node) else { throw NodeError.notInFederation(node) }
        return map
    }

    /// The master's agent reports each map version it has applied to the hub.
    public func hubApplied(version: Int64) async {
        await hubApplied.publish(version)
    }

    /// How many map long-polls are waiting for a change.
    public func waitingLongPolls() async -> Int {
        await watch.waiting + distribution.watch.waiting
    }

    /// Ends all long-polls (on shutdown).
    public func closeLongPolls() async {
        await watch.close()
        await distribution.watch.close()
        await hubApplied.close()
    }

    public func heartbeat(_ node: String, appliedVersion: Int64? = nil, path: TunnelPath? = nil) async {
        await presence.saw(node, at: now())
        if let path { await presence.path(node, path) }
        if let appliedVersion { await presence.applied(node, version: appliedVersion) }
    }

    /// Waits until every online node reports a map version of at least `version` — or of the
    /// version at which its map last changed, when that is earlier (agents report right after
    /// applying a new map) — or `timeout`; returns the online nodes still behind.
    public func waitUntilApplied(_ version: Int64, timeout: Duration) async -> [String] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (lastSeen, applied) = await presence.snapshot()
            let dues = await distribution.watch.dues()
            let current = now()
            let pending = distribution.current.nodes.map(\.name).filter { node in
                guard let seen = lastSeen[node], current.timeIntervalSince(seen) < Self.onlineWindow else { return false }
                return (applied[node] ?? 0) < min(version, max(dues.everyone, dues.nodes[node] ?? 0))
            }
            if pending.isEmpty || ContinuousClock.now >= deadline { return pending }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    public func leave(_ node: String) async throws {
        guard node != config.nodeName else { throw NodeError.masterCannotLeave }
        removeFromSwarm(node)
        _ = try await stored { try $0.removeNode(node) }
        credentials.forget(node)
        await presence.forget(node)
        relay.end(node)
        logger.info("node left", metadata: ["node": "\(node)"])
        try await changed()
        await distribution.forget(node)
    }

    public func removeNode(_ name: String) async throws {
        guard name.lowercased() != config.nodeName.lowercased() else { throw NodeError.masterCannotBeRemoved }
        removeFromSwarm(name)
        guard try await stored({ try $0.removeNode(name) }) else { throw NodeError.unknown(name) }
        credentials.forget(name)
        await presence.forget(name)
        relay.end(name)
        logger.info("node removed", metadata: ["node": "\(name)"])
        try await changed()
        await distribution.forget(name)
    }

    public func nodes() async throws -> [API.NodeInfo] {
        let snapshot = try await currentSnapshot()
        let current = now()
        let (lastSeen, applied) = await presence.snapshot()
        let paths = await presence.paths()
        return snapshot.nodes.map { node in
            let seen = lastSeen[node.name]
            let online = seen.map { current.timeIntervalSince($0) < Self.onlineWindow } ?? false
            return API.NodeInfo(node, online: online, lastSeen: seen, mapVersion: applied[node.name], path: node.isMaster ? nil : paths[node.name])
        }
    }

    public func status() async throws -> API.Status {
        let nodes = try await nodes()
        return API.Status(federation: config.federation, cidr: config.cidr, endpoint: config.endpoint, apiPort: config.apiPort,
                          wireGuardPort: config.wireGuardPort, caPin: caPin, mapVersion: distribution.current.version,
                          nodes: nodes.count, online: nodes.filter(\.online).count)
    }

    // MARK: Tokens

    public func createToken(_ request: API.TokenCreateRequest) throws -> API.TokenCreateResponse {
        let domain: String
        do { domain = try NameRule.label(request.domain, kind: "domain") } catch { throw TokenError.invalidDomain("\(error)") }
        guard (1...(366 * 86400)).contains(request.ttlSeconds) else { throw TokenError.badTTL }
        guard (1...10000).contains(request.uses) else { throw TokenError.badUses }
        let (token, secret) = JoinToken.issue(domain: domain, ttl: .seconds(request.ttlSeconds), maxUses: request.uses, now: now())
        try store.addToken(token)
        logger.info("token created", metadata: ["token": "\(token.id)", "domain": "\(domain)"])
        let join = JoinString(host: config.endpoint, apiPort: config.apiPort, caPin: caPin, tokenID: token.id, secret: secret)
        return API.TokenCreateResponse(token: API.TokenInfo(token, now: now()), join: join.description)
    }

    public func tokens() throws -> [API.TokenInfo] {
        let current = now()
        return try store.tokens().map { API.TokenInfo($0, now: current) }
    }

    public func revokeToken(_ id: String) throws {
        guard try store.revokeToken(id) else { throw TokenError.unknown(id) }
        logger.info("token revoked", metadata: ["token": "\(id)"])
    }

    // MARK: Credentials

    /// The node a `NAME.SECRET` credential belongs to, or nil.
    public func authenticateNode(_ credential: String) async throws -> String? {
        let parts = credential.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, credential.count <= 200 else { return nil }
        let name = String(parts[0])
        guard let digest = try await credentials.digest(of: name, read: { try await self.stored { try $0.credentialDigest(of: name) } }) else { return nil }
        return Secret.constantTimeEquals(Secret.digest(String(parts[1])), digest) ? name : nil
    }

    /// Whether `admin:SECRET` is the operator's credential (kept in the master's state dir).
    public func authenticateAdmin(_ credential: String) -> Bool {
        guard credential.hasPrefix("admin:"), credential.count <= 200 else { return false }
        return Secret.constantTimeEquals(Secret.digest(String(credential.dropFirst(6))), config.adminCredentialDigest)
    }
}
