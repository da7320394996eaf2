import Foundation
import FuseModel
import FuseSystem
import Logging

/// Where an agent gets its network map: the control plane over HTTPS, or in-process on the
/// master.
public protocol MapSource: Sendable {
    /// The node's map once its version is above `since`, or the current one after `wait` seconds.
    /// `applied`: the version this node's host has applied, which the master notes as a
    /// heartbeat would (so that no heartbeat has to follow each new map).
    func map(since: Int64, applied: Int64, wait: Int) async throws -> NetworkMap
    func heartbeat(_ beat: API.Heartbeat) async throws
    /// Called after a map version was applied to the host.
    func applied(version: Int64) async
    /// The manager's address and join token for this node's engine.
    func swarmJoin() async throws -> SwarmJoin
    /// This node's engine is in the Swarm as `id`.
    func swarmJoined(id: String) async throws
}

extension MapSource {
    public func applied(version: Int64) async {}
}

/// The node was removed from the federation (its credential no longer works).
public struct NodeRevoked: Error, CustomStringConvertible {
    public var description: String { "this node was removed from the federation" }
}

/// The control plane over HTTPS, with the node's credential; maps arrive as changes
/// (`MapFollower`).
public struct RemoteMapSource: MapSource {
    let client: ControlPlaneClient
    let follower = MapFollower()

    public init(client: ControlPlaneClient) { self.client = client }

    public func map(since: Int64, applied: Int64, wait: Int) async throws -> NetworkMap {
        do { return try await follower.map(since: since, applied: applied, wait: wait, client: client) } catch let error as ClientError where error.isUnauthorized {
            throw NodeRevoked()
        }
    }

    public func heartbeat(_ beat: API.Heartbeat) async throws { try await client.heartbeat(beat) }
    public func swarmJoin() async throws -> SwarmJoin { try await client.swarmJoin() }
    public func swarmJoined(id: String) async throws { try await client.swarmJoined(id: id) }
}

/// The reconcile loop of a node: desired state = the latest network map (cached on disk, so
/// that tunnels come back after a restart while the master is unreachable); actual state =
/// the host. Long-polls the map, repairs drift every few seconds, sends heartbeats.
public actor Agent {
    let state: NodeState
    let config: NodeConfig
    let source: any MapSource
    let host: any HostPlane
    let logger: Logger
    let repairInterval: Duration
    /// Folders whose logs this daemon keeps bounded (LogRotation).
    let logDirectories: [String]
    private var current: NetworkMap?
    /// `map.json`: the latest map, for a restart while the master is unreachable.
    let mapCache: MapCache
    private var masterReachable = false
    /// The last map version applied to the host without error (what heartbeats report).
    private var appliedVersion: Int64 = 0
    private var lastError: String?
    /// The device as the last reconcile left it.
    private var lastDevice: WireGuardDevice?
    private var tunnelUp: Bool { Self.tunnelUp(device: lastDevice, isHub: config.isMaster) }
    let workloads: WorkloadSupervisor
    /// "ready" once the engine is in the Swarm; else what it waits for; nil without workloads.
    private var workloadState: String?
    /// Told the master's new endpoint host when a map moves it (`fuse master set-endpoint`).
    let masterMoved: (@Sendable (String) async -> Void)?
    /// The hub is (or will be) another process than the one this node last spoke to: the
    /// first answer of the control plane starts a fresh session with it (after a move, the
    /// new hub cannot reach this node through its NAT first).
    let freshSessionOnFirstAnswer: Bool
    /// A worker's relay to the hub through the master, for when UDP does not pass (nil: the
    /// hub itself, and tests without a master).
    let relay: RelayLink?
    private var pathChoice: PathChoice
    private var path: TunnelPath? { relay == nil ? nil : pathChoice.path }

    /// - Parameter logDirectories: More folders with logs to keep bounded, besides the node's own.
    public init(state: NodeState, source: any MapSource, host: any HostPlane, logger: Logger, role: SwarmRole = .worker,
                repairInterval: Duration = .seconds(5), logDirectories: [String] = [],
                masterMoved: (@Sendable (String) async -> Void)? = nil, freshSessionOnFirstAnswer: Bool = false,
                relay: RelayLink? = nil, pathChoice: PathChoice = PathChoice()) throws {
        self.state = state
        self.config = try state.loadConfig()
        self.source = source
        self.host = host
        self.logger = logger
        self.mapCache = MapCache(path: state.mapPath, logger: logger)
        self.repairInterval = repairInterval
        self.masterMoved = masterMoved
        self.freshSessionOnFirstAnswer = freshSessionOnFirstAnswer
        self.logDirectories = [state.directory, state.registryDirectory] + logDirectories
        self.workloads = WorkloadSupervisor(config: config, state: state, role: role, source: source, host: host, logger: logger)
        self.relay = config.isMaster ? nil : relay
        self.pathChoice = pathChoice
        relay?.setPath(pathChoice.path)
    }

    /// Runs until cancelled; returns normally when the node was removed from the federation
    /// (after removing everything it had created).
    public func run() async throws {
        if let relay { try await relay.start() }
        do { try await reconcileUntilRemoved() } catch {
            await relay?.stop()
            await mapCache.flush()
            throw error
        }
        await relay?.stop()
        await mapCache.flush()
    }

    private func reconcileUntilRemoved() async throws {
        await restoreFromCache()
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.pollMaps() }
                group.addTask { try await self.repairAndReport() }
                group.addTask { try await self.superviseWorkloads() }
                if let relay = self.relay {
                    group.addTask { try await relay.run() }
                    group.addTask { try await self.followPath() }
                }
                try await group.next()
                group.cancelAll()
            }
        } catch is NodeRevoked {
            logger.notice("this node was removed from the federation; removing everything FUSE created here")
            await mapCache.stop()
            await NodeTeardown(state: state, host: host).all(interface: config.interface)
        }
    }

    /// Applies the map cached on disk, if it has not applied one yet: the tunnels come back
    /// before the master is heard from (a reboot while it is down). The master process calls it
    /// before its API answers, so that a worker that hears the control plane again finds the
    /// hub ready for its handshake.
    public func restoreFromCache() async {
        guard current == nil, let map = state.cachedMap() else { return }
        logger.info("applying cached network map", metadata: ["version": "\(map.version)"])
        current = map
        await reconcile()
    }

    private func pollMaps() async throws {
        var backoff = 0.25
        // A failed poll since the last answer: when the next answer comes, the master (and its
        // hub) may have restarted or moved.
        var failedSinceContact = freshSessionOnFirstAnswer
        while !Task.isCancelled {
            do {
                // The poll tells the master what this host applied: a new map is in force
                // once the next poll asks from it (no heartbeat per map; at 2,000 nodes a
                // change everywhere was three requests per node instead of two).
                // After a failure (or a start that needs a fresh session) the poll does not
                // wait: a master whose version did not change would park it for 25 s, and the
                // fresh session below with it (a moved hub cannot reach this node first).
                let map = try await source.map(since: current?.version ?? 0, applied: appliedVersion, wait: failedSinceContact ? 0 : 25)
                let cameBack = failedSinceContact
                masterReachable = true
                failedSinceContact = false
                backoff = 0.25
                if map != current {
                    logger.info("new network map", metadata: ["version": "\(map.version)", "peers": "\(map.peers.count)"])
                    // Before the map is cached: a node stopped in between still knows where to look.
                    if let moved = map.masterEndpointHost, let before = current?.masterEndpointHost, moved != before {
                        await masterMoved?(moved)
                    }
                    current = map
                    await reconcile()
                    // Written after the host's change, off this loop (the hub's map lists every
                    // node); the host converges on the new map even when the cache cannot be
                    // written (a full disk: loud, but it stops nothing).
                    await mapCache.store(map)
                }
                if cameBack { await restartHubSession() }
            } catch let revoked as NodeRevoked {
                throw revoked
            } catch is CancellationError {
                return
            } catch {
                masterReachable = false
                failedSinceContact = true
                lastError = "\(error)"
                logger.warning("cannot fetch the network map", metadata: ["error": "\(error)"])
                // At most 1 s between tries: a restarted master is heard from (and its hub
                // re-handshaked, below) within about a second.
                try await Task.sleep(for: .seconds(backoff))
                backoff = min(backoff * 2, 1)
            }
        }
    }

    private func repairAndReport() async throws {
        while !Task.isCancelled {
            await reconcile(repairing: true)
            await restartStaleHubSession()
            try? await source.heartbeat(API.Heartbeat(mapVersion: appliedVersion, tunnelUp: tunnelUp, path: path))
            LogRotation.rotate(LogRotation.logs(in: logDirectories))
            try await host.pause(upTo: repairInterval)
        }
    }

    /// Once the tunnel is up: the node's engine, in the Swarm. Retries quickly until ready,
    /// then checks every few seconds (and restarts what stopped).
    private func superviseWorkloads() async throws {
        while !Task.isCancelled {
            // Quick retries only while an engine is wanted and not ready yet.
            var ready = current.map { !$0.node.runsWorkloads } ?? false
            if let map = current, map.node.runsWorkloads, tunnelUp {
                do {
                    try await workloads.ensure(map)
                    ready = true
                    workloadState = "ready"
                } catch is CancellationError {
                    return
                } catch {
                    if workloadState != "error: \(error)" { logger.warning("workloads not ready", metadata: ["error": "\(error)"]) }
                    workloadState = "error: \(error)"
                }
            }
            try await Task.sleep(for: ready ? repairInterval : .milliseconds(250))
        }
    }

    /// The path to the hub (`PathChoice`): while direct, the hub peer's counters every second;
    /// while relayed, the relay's UDP probe (`UDPProbe`). A change applies at once: the hub's
    /// endpoint in the device, and a fresh session through the new path, so that the hub learns
    /// the node's new address from its handshake instead of from whatever the node sends next
    /// (nothing, on an idle tunnel, until the keepalive). It is reported to the master with
    /// the next heartbeat.
    private func followPath() async throws {
        guard let relay else { return }
        let clock = ContinuousClock(), start = clock.now
        var tick = 0
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(500))
            tick += 1
            var changed = false
            let now = (clock.now - start) / .seconds(1)
            if pathChoice.path == .relay {
                relay.probeIfDue()
                changed = relay.takeDirectAnswer() && pathChoice.directAnswered(now: now)
            } else if tick % 2 == 0, let hub = current?.peers.first?.publicKey,
                      let stats = try? await host.peerStats().first(where: { $0.publicKey == hub }) {
                changed = pathChoice.observe(receivedBytes: stats.receivedBytes, sentBytes: stats.sentBytes, now: now)
            }
            guard changed else { continue }
            logger.notice("path to the hub changed", metadata: ["path": "\(pathChoice.path.rawValue)"])
            relay.setPath(pathChoice.path)
            await reconcile()
            let restarted = Int64(Date().timeIntervalSince1970)
            await restartHubSession()
            await awaitHandshake(since: restarted)
            try? await source.heartbeat(API.Heartbeat(mapVersion: appliedVersion, tunnelUp: tunnelUp, path: path))
        }
    }

    /// After a fresh session with the hub: waits (at most 3 s) for its handshake and notes it,
    /// so that `status` and the next heartbeat say the tunnel is up at once, not after the next repair.
    private func awaitHandshake(since start: Int64) async {
        guard let hub = current?.peers.first?.publicKey else { return }
        _ = await waitFor(.seconds(3), every: .milliseconds(100)) {
            guard let handshake = try? await host.peerStats().first(where: { $0.publicKey == hub })?.lastHandshake, handshake >= start,
                  let index = lastDevice?.peers.firstIndex(where: { $0.publicKey == hub }) else { return false }
            lastDevice?.peers[index].lastHandshake = handshake
            return true
        }
    }

    /// The control plane answers again after it did not: the master restarted (or moved), and
    /// its hub with it, which has lost this worker's session. A fresh handshake now, instead of WireGuard
    /// noticing the dead session by itself ~15 s later.
    private func restartHubSession() async {
        guard !config.isMaster, let map = current, let hub = map.peers.first else { return }
        do { try await host.restartSession(with: hub.publicKey, plan: plan(for: map)) } catch {
            logger.warning("cannot restart the session with the hub", metadata: ["error": "\(error)"])
        }
    }

    /// A worker whose last handshake with the hub is older than WireGuard's reject-after time
    /// has a session that carries nothing: a fresh one now (at most once a minute), with the
    /// endpoint just resolved again (a DNS name that moved), instead of waiting for WireGuard's
    /// own retry.
    private func restartStaleHubSession() async {
        guard !config.isMaster, let hub = lastDevice?.peers.first, hub.lastHandshake > 0,
              !WireGuardTimers.isFresh(lastHandshake: hub.lastHandshake, now: Date().timeIntervalSince1970) else { return }
        if let last = lastStaleRestart, ContinuousClock.now - last < .seconds(60) { return }
        lastStaleRestart = .now
        logger.notice("the handshake with the hub is stale; starting a fresh session")
        await restartHubSession()
    }
    private var lastStaleRestart: ContinuousClock.Instant?

    /// Makes the host match the current map; remembers the outcome for `status`. `repairing`:
    /// the periodic repair (`HostPlane.apply`).
    private func reconcile(repairing: Bool = false) async {
        guard let map = current else { return }
        var device: WireGuardDevice?
        do {
            relay?.setHub(map.peers.first?.endpoint.flatMap(EndpointResolver.resolve))
            device = try await host.apply(plan(for: map), repairing: repairing)
            lastError = nil
            appliedVersion = map.version
            await source.applied(version: map.version)
        } catch {
            lastError = "\(error)"
            logger.error("reconcile failed", metadata: ["error": "\(error)"])
        }
        lastDevice = device
        if map.node.runsWorkloads, workloadState == nil { workloadState = "starting" }
    }

    /// While relayed, the hub's endpoint is the relay's local socket.
    private func plan(for map: NetworkMap) -> HostPlan {
        HostPlan(map: map, interface: config.interface, privateKey: config.privateKey, listenPort: config.listenPort, resolve: EndpointResolver.resolve,
                 relayEndpoint: path == .relay ? relay?.localEndpoint : nil)
    }

    /// What the agent sees now (the local API's `status`); nil before it has a map.
    public func status() -> AgentStatus? {
        guard let map = current else { return nil }
        let handshake = lastDevice?.peers.map(\.lastHandshake).max().flatMap { $0 > 0 ? Date(timeIntervalSince1970: TimeInterval($0)) : nil }
        return AgentStatus(pid: getpid(), mapVersion: map.version, appliedVersion: appliedVersion, address: map.node.address.description,
                           tunnelUp: tunnelUp, lastHandshake: handshake, updatedAt: Date(), masterReachable: masterReachable, error: lastError,
                           workloads: workloadState, node: config.name, interface: config.interface, isMaster: config.isMaster,
                           path: path)
    }

    /// A worker's tunnel is up when its hub peer's last handshake still gives a usable session
    /// (younger than WireGuard's reject-after time; it re-keys every two minutes while the
    /// keepalive runs); the hub's when it runs.
    static func tunnelUp(device: WireGuardDevice?, isHub: Bool, now: Date = Date()) -> Bool {
        guard let device else { return false }
        if isHub { return true }
        return WireGuardTimers.isFresh(lastHandshake: device.peers.first?.lastHandshake ?? 0, now: now.timeIntervalSince1970)
    }
}
