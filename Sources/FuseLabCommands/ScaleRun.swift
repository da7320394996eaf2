import Foundation
import FuseAgent
import FuseLab
import FuseModel
import FuseSystem
#if canImport(Glibc)
import Glibc
#endif

/// The measuring half of `fuse-lab bench scale`, inside its namespace: a real master, the
/// simulated nodes, and each size's figures.
struct ScaleRun: Sendable {
    let fusePath: String
    let stateDir: String
    let interface: String
    let apiPort: Int
    let wgPort: Int
    let sizes: [Int]
    let concurrency: Int
    let deadline: Duration
    let progress: Progress
    /// Where the master's log is copied at the end.
    let logCopy: String

    var masterDirectory: String { stateDir + "/master" }

    /// Simulated nodes per HTTP client: one client's connection pool does work that grows with
    /// its connections on every request (2 per node: the long-poll and a heartbeat), so 2,000
    /// nodes on one client made the simulator, not the master, the slowest part. All clients
    /// share one event loop group (no thread per node).
    static let nodesPerClient = 25

    /// The policy change: ops may reach tcp `port` on every field node (every field map changes).
    static func policy(port: Int) -> String {
        """
        {"rules": [{"from": ["domain:crisis"], "to": ["exposure:*"]}, {"from": ["domain:ops"], "to": ["domain:field"], "proto": "tcp", "ports": [\(port)]}]}
        """
    }

    func run() async throws -> [ScaleStep] {
        let limit = Self.raiseOpenFileLimit()
        // Every simulated node's client may hold 3 connections per node (a long-poll, a
        // heartbeat, a join); the master must admit them all from 127.0.0.1, with room for
        // connections that the clients closed and it has not seen close yet.
        let clientCount = max(1, ((sizes.max() ?? 0) + sizes.count) / Self.nodesPerClient + 1)
        let maxConnections = 4 * clientCount * Self.nodesPerClient + 1024
        let environment = ["FUSE_INTERFACE": interface, "FUSE_API_MAX_CONNECTIONS_PER_SOURCE": String(maxConnections)]
        progress("open-file limit \(limit); master: FUSE_API_MAX_CONNECTIONS_PER_SOURCE=\(maxConnections)")
        try fuse(["master", "init", "--name", "scale", "--domain", "crisis", "--endpoint", "127.0.0.1", "--api-port", String(apiPort),
                  "--wg-port", String(wgPort), "--no-workloads", "--interface", interface], environment: environment)
        try fuse(["master", "start"], environment: environment)
        guard let pid = (try? String(contentsOfFile: masterDirectory + "/master.pid", encoding: .utf8)).flatMap({ Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        else { throw LabError("no master.pid in \(masterDirectory)") }
        progress("master running (pid \(pid)); its open-file limit: \(Self.openFileLimit(of: pid) ?? "unknown")")
        let admin = try ControlPlaneClient(host: "127.0.0.1", port: UInt16(apiPort), caPEM: try String(contentsOfFile: masterDirectory + "/ca.pem", encoding: .utf8),
                                           credential: try String(contentsOfFile: masterDirectory + "/admin.credential", encoding: .utf8)
                                               .trimmingCharacters(in: .whitespacesAndNewlines),
                                           connectTimeout: .seconds(30), maxConnections: 16)
        let caPEM = try String(contentsOfFile: masterDirectory + "/ca.pem", encoding: .utf8)
        let clients = try (0..<clientCount).map { _ in
            try ControlPlaneClient(host: "127.0.0.1", port: UInt16(apiPort), caPEM: caPEM, connectTimeout: .seconds(30), maxConnections: 3 * Self.nodesPerClient)
        }
        let fleet = SimulatedFleet()
        func stop() async {
            await fleet.stopAll()
            // The master's log outlives the state dir (destroy removes it), for a look after a run.
            try? FileManager.default.removeItem(atPath: logCopy)
            try? FileManager.default.copyItem(atPath: masterDirectory + "/master.log", toPath: logCopy)
            try? fuse(["master", "destroy"], environment: environment)
            await admin.shutdown()
            for client in clients { await client.shutdown() }
        }
        do {
            let steps = try await grow(fleet: fleet, admin: admin, clients: clients, pid: pid)
            await stop()
            return steps
        } catch {
            await stop()
            throw error
        }
    }

    private func grow(fleet: SimulatedFleet, admin: ControlPlaneClient, clients: [ControlPlaneClient], pid: Int32) async throws -> [ScaleStep] {
        var joinedAll = 0
        /// The anonymous client of the next simulated node (nodes are spread over the clients in turn).
        func nextClient() -> ControlPlaneClient {
            defer { joinedAll += 1 }
            return clients[joinedAll % clients.count]
        }
        let tokens = ["field": try await token(admin, domain: "field"), "ops": try await token(admin, domain: "ops")]
        var steps: [ScaleStep] = []
        var joined = 0, probes = 0
        for size in sizes {
            // 1 in 100 is an operator's device (ops), the rest field devices.
            let newcomers = (joined..<size).map { index in (name: "sim\(index)", domain: index % 100 == 50 ? "ops" : "field") }
            let cpuBefore = CPUSample.take([pid])
            let start = ContinuousClock.now
            let latencies = try await join(newcomers.map { ($0.name, $0.domain, nextClient()) }, tokens: tokens, fleet: fleet)
            let joinSeconds = (ContinuousClock.now - start).inSeconds
            let cpuJoin = cpuBefore.percent(until: CPUSample.take([pid]))[pid] ?? 0
            joined = size
            progress(String(format: "%d nodes: %d joins in %.1f s (%.0f/s)", size, newcomers.count, joinSeconds, Double(newcomers.count) / joinSeconds))
            let nodes = await fleet.all
            guard await eventually(within: .seconds(60), every: .milliseconds(100), { nodes.allSatisfy(\.isPolling) }) else {
                throw LabError("not every simulated node was long-polling within 60 s")
            }
            try await Task.sleep(for: .seconds(2))
            let idleBefore = CPUSample.take([pid])
            try await Task.sleep(for: .seconds(10))
            let cpuIdle = idleBefore.percent(until: CPUSample.take([pid]))[pid] ?? 0

            var changes: [ScaleChange] = []
            let port = steps.count % 2 == 0 ? 22 : 2222
            changes.append(try await change(.policy, expected: nodes, admin: admin) {
                let response: API.PolicyInfo = try await admin.call("PUT", "/v1/policy", body: API.PolicyBody(text: Self.policy(port: port)))
                _ = response
            })
            guard let owner = nodes.first(where: { $0.domain == "field" }) else { throw LabError("no field node") }
            changes.append(try await change(.exposure, expected: [owner], admin: admin) {
                let request = API.ExposeRequest(name: "svc\(size)", proto: .tcp, port: 9000, target: IPv4Address("192.168.77.10")!, targetPort: 80, node: owner.name)
                let exposure: Exposure = try await admin.call("POST", "/v1/exposures", body: request)
                _ = exposure
            })
            // One more operator's device: until the hub has its peer; then it leaves.
            probes += 1
            let key = WireGuardKey.generatePrivate().publicKey
            let addStart = ContinuousClock.now
            let probeName = "probe\(probes)", opsToken = tokens["ops"]!, probeClient = nextClient()
            let probeJoin = Task { try await SimulatedNode.join(name: probeName, domain: "ops", key: key, token: opsToken, anonymous: probeClient) }
            let added = await hub(has: key, true, since: addStart)
            let probe = try await probeJoin.value
            await fleet.add(probe)
            _ = await eventually(within: .seconds(30), every: .milliseconds(50)) { probe.isPolling }
            try await Task.sleep(for: .seconds(1))
            let field = await fleet.all.filter { $0.domain == "field" }
            let leaveStart = ContinuousClock.now
            let leave = Task { try await fleet.leave(probe.name) }
            let removed = await hub(has: key, false, since: leaveStart)
            try await leave.value
            changes.append(try await propagation(.leave, expected: field, since: leaveStart, admin: admin))
            let alone = try await joinsAlone(step: steps.count, clients: nextClient, token: tokens["field"]!, fleet: fleet)
            // Again with the heartbeats held, once the last ones in flight are answered.
            fleet.heartbeats.on = false
            _ = await eventually(within: .seconds(10), every: .milliseconds(20)) { fleet.heartbeats.inFlight == 0 }
            let quiet = try await joinsAlone(step: steps.count, clients: nextClient, token: tokens["field"]!, fleet: fleet, label: "quiet")
            fleet.heartbeats.on = true
            let db = ["", "-wal", "-shm"].reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: masterDirectory + "/fuse.db" + $1)[.size] as? Int) ?? 0) }
            let step = ScaleStep(nodes: size, joinRate: Double(newcomers.count) / joinSeconds, joinP50: ScaleResults.percentile(latencies, 50) ?? 0,
                                 joinP99: ScaleResults.percentile(latencies, 99) ?? 0, joinAloneP50: ScaleResults.percentile(alone, 50) ?? 0,
                                 joinAloneMax: alone.max() ?? 0, joinQuietP50: ScaleResults.percentile(quiet, 50), changes: changes, hubAddPeerSeconds: added, hubRemovePeerSeconds: removed,
                                 masterRSSBytes: (BenchReport.vmRSSKiB(fromStatus: ProcFile.text("/proc/\(pid)/status") ?? "") ?? 0) * 1024,
                                 masterCPUJoinPercent: cpuJoin, masterCPUIdlePercent: cpuIdle,
                                 masterOpenFiles: (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0,
                                 databaseBytes: db, load: BenchClock.load())
            progress(renderTable(ScaleResults.table([step]).header, ScaleResults.table([step]).rows).trimmingCharacters(in: .newlines)
                     + "\n  simulated nodes so far: \(await fleet.errorCount) failed polls, \(retriedJoins.withLock { $0 }) joins asked again")
            steps.append(step)
        }
        return steps
    }

    /// Field devices that join one at a time (what changes only the hub's map and their own),
    /// each from the request to its answer, which comes once the hub has the peer; then they
    /// leave again, so that the next size starts from its own count.
    static let joinsAlone = 20

    private func joinsAlone(step: Int, clients nextClient: () -> ControlPlaneClient, token: String, fleet: SimulatedFleet,
                            label: String = "alone") async throws -> [Double] {
        var seconds: [Double] = []
        for index in 0..<Self.joinsAlone {
            let start = ContinuousClock.now
            let node = try await SimulatedNode.join(name: "\(label)\(step)-\(index)", domain: "field", token: token, anonymous: nextClient())
            seconds.append((ContinuousClock.now - start).inSeconds)
            await fleet.add(node)
            // The next one joins alone: once this one is long-polling (its first poll is done).
            _ = await eventually(within: .seconds(10), every: .milliseconds(20)) { node.isPolling }
        }
        for index in 0..<Self.joinsAlone { try await fleet.leave("\(label)\(step)-\(index)") }
        progress(String(format: "  %d joins \(label): p50 %.3f s, max %.3f s", seconds.count, ScaleResults.percentile(seconds, 50) ?? .nan, seconds.max() ?? .nan))
        return seconds
    }

    /// Joins `newcomers` with `concurrency` in flight; each join's seconds.
    private func join(_ newcomers: [(name: String, domain: String, client: ControlPlaneClient)], tokens: [String: String],
                      fleet: SimulatedFleet) async throws -> [Double] {
        try await withThrowingTaskGroup(of: Double.self) { group in
            var pending = newcomers.makeIterator()
            func next() -> Bool {
                guard let newcomer = pending.next() else { return false }
                group.addTask {
                    let start = ContinuousClock.now
                    let node: SimulatedNode
                    do {
                        node = try await SimulatedNode.join(name: newcomer.name, domain: newcomer.domain, token: tokens[newcomer.domain]!, anonymous: newcomer.client)
                    } catch {
                        throw LabError("join of \(newcomer.name) failed: \(error)")
                    }
                    let seconds = (ContinuousClock.now - start).inSeconds
                    await fleet.add(node)
                    return seconds
                }
                return true
            }
            for _ in 0..<concurrency where !next() { break }
            var latencies: [Double] = []
            while let seconds = try await group.next() {
                latencies.append(seconds)
                _ = next()
            }
            return latencies
        }
    }

    /// Makes a change and times it to every node in `expected`: from the request to the
    /// long-poll answer that brought the version the change made (or a later one).
    private func change(_ kind: ScaleChange.Kind, expected: [SimulatedNode], admin: ControlPlaneClient,
                        _ act: @Sendable () async throws -> Void) async throws -> ScaleChange {
        let start = ContinuousClock.now
        try await act()
        return try await propagation(kind, expected: expected, since: start, admin: admin)
    }

    /// How long the master's latest version took from `start` to each node of `expected`.
    private func propagation(_ kind: ScaleChange.Kind, expected: [SimulatedNode], since start: ContinuousClock.Instant,
                             admin: ControlPlaneClient) async throws -> ScaleChange {
        let status: API.Status = try await admin.call("GET", "/v1/status")
        let version = status.mapVersion
        _ = await eventually(within: deadline, every: .milliseconds(20)) { expected.allSatisfy { $0.arrival(of: version) != nil } }
        let seconds = expected.compactMap { $0.arrival(of: version).map { ($0 - start).inSeconds } }
        let result = ScaleChange(kind: kind, seconds: seconds, expected: expected.count)
        progress(String(format: "  %@: %d/%d nodes, p50 %.2f s, p99 %.2f s", kind.rawValue, result.reached, result.expected, result.p50 ?? .nan, result.p99 ?? .nan))
        return result
    }

    /// Seconds from `start` until the hub's WireGuard has (or, `present` false, no longer has)
    /// `key` as a peer; nil after 30 s.
    private func hub(has key: WireGuardKey, _ present: Bool, since start: ContinuousClock.Instant) async -> Double? {
        let hub = UserspaceWireGuard(interface: interface)
        let found = await eventually(within: .seconds(30), every: .milliseconds(20)) {
            guard let device = try? WireGuardUAPI.parseGet(hub.get()) else { return false }
            return device.peers.contains { $0.publicKey == key } == present
        }
        return found ? (ContinuousClock.now - start).inSeconds : nil
    }

    /// Whether `condition` holds within `timeout`, checked every `interval` (without blocking
    /// a thread that the simulated nodes need).
    private func eventually(within timeout: Duration, every interval: Duration, _ condition: () -> Bool) async -> Bool {
        let end = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < end else { return false }
            try? await Task.sleep(for: interval)
        }
        return true
    }

    private func token(_ admin: ControlPlaneClient, domain: String) async throws -> String {
        let created: API.TokenCreateResponse = try await admin.call("POST", "/v1/tokens", body: API.TokenCreateRequest(domain: domain, ttlSeconds: 86400, uses: 10000))
        let join = try JoinString(parsing: created.join)
        return "\(join.tokenID).\(join.secret)"
    }

    private func fuse(_ arguments: [String], environment: [String: String]) throws {
        let result = try HostCommandRunner().run([fusePath] + arguments + ["--state-dir", stateDir], environment: environment)
        guard result.succeeded else { throw LabError("fuse \(arguments.prefix(2).joined(separator: " ")): \(oneLine(SystemError(result.stderr.isEmpty ? result.stdout : result.stderr)))") }
    }

    /// Raises this process's soft open-file limit to its hard limit (children inherit it).
    static func raiseOpenFileLimit() -> String {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return String(limit.rlim_cur)
    }

    static func openFileLimit(of pid: Int32) -> String? {
        ProcFile.text("/proc/\(pid)/limits")?.split(separator: "\n").first { $0.hasPrefix("Max open files") }
            .map { $0.split(whereSeparator: \.isWhitespace).dropFirst(3).prefix(2).joined(separator: " soft, ") + " hard" }
    }
}
