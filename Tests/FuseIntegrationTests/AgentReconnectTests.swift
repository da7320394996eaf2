import Foundation
import FuseAgent
import FuseModel
import FuseSystem
import Logging
import Testing

/// The agent's reactions to its control plane going away and coming back, with a scripted map
/// source (the in-process harness cannot close sockets as a restarted master process does).
@Suite(.timeLimit(.minutes(1)))
struct AgentReconnectTests {
    /// Answers the scripted outcomes in order, then parks every further poll until cancelled —
    /// except, like a master whose version did not change, a poll that does not wait, which
    /// `unchanged` answers at once.
    actor ScriptedSource: MapSource {
        enum Outcome { case unreachable, map(NetworkMap) }
        private var script: [Outcome]
        private let unchanged: NetworkMap?
        private(set) var polls = 0
        private(set) var waits: [Int] = []
        init(_ script: [Outcome], unchanged: NetworkMap? = nil) {
            self.script = script
            self.unchanged = unchanged
        }

        func map(since: Int64, applied: Int64, wait: Int) async throws -> NetworkMap {
            polls += 1
            waits.append(wait)
            if script.isEmpty, wait == 0, let unchanged { return unchanged }
            guard !script.isEmpty else {
                try await Task.sleep(for: .seconds(3600))
                throw CancellationError()
            }
            switch script.removeFirst() {
            case .unreachable: throw ClientError.refused("cannot reach the master: connection refused")
            case .map(let map): return map
            }
        }
        func heartbeat(_ beat: API.Heartbeat) async throws {}
        func swarmJoin() async throws -> SwarmJoin { throw ClientError.refused("no Swarm here") }
        func swarmJoined(id: String) async throws {}
    }

    struct Worker {
        let state: NodeState
        let map: NetworkMap
        let hubKey: WireGuardKey
    }

    /// A worker's state dir with its config and a cached map whose hub is at `endpoint`.
    static func worker(endpoint: String = "192.0.2.1", version: Int64 = 3) throws -> Worker {
        let state = NodeState(stateDir: FileManager.default.temporaryDirectory.appendingPathComponent("fuse-agent-\(UUID().uuidString.prefix(8))").path)
        try state.createDirectory()
        let hubKey = WireGuardKey.generatePrivate().publicKey
        let nodes = [
            NodeRecord(name: "master", domain: "crisis", address: try #require(IPv4Address("10.99.0.1")), publicKey: hubKey, isMaster: true),
            NodeRecord(name: "a1", domain: "companyA", address: try #require(IPv4Address("10.99.0.2")),
                       publicKey: WireGuardKey.generatePrivate().publicKey, isMaster: false),
        ]
        let facts = FederationFacts(name: "relief", cidr: try IPv4CIDR(parsing: "10.99.0.0/16"), endpointHost: endpoint, wireGuardPort: 51820, apiPort: 7443)
        let map = try #require(NetworkMap.compute(for: "a1", nodes: nodes, facts: facts, version: version))
        try StateFile.write(NodeConfig(name: "a1", interface: "fuse-a1", masterHost: endpoint, apiPort: 7443, caPin: "pin", credential: "a1.secret",
                                       privateKey: WireGuardKey.generatePrivate(), listenPort: nil, isMaster: false), to: state.configPath)
        try StateFile.write(map, to: state.mapPath)
        return Worker(state: state, map: map, hubKey: hubKey)
    }

    static func run(_ agent: Agent, until condition: @escaping @Sendable () async -> Bool) async -> Bool {
        let task = Task { try await agent.run() }
        let met = await waitFor(.seconds(5), every: .milliseconds(10), condition)
        task.cancel()
        _ = await task.result
        return met
    }

    @Test func aControlPlaneThatComesBackGetsAFreshHandshakeWithTheHubOnce() async throws {
        let worker = try Self.worker()
        defer { try? FileManager.default.removeItem(atPath: worker.state.root) }
        let host = RecordingHostPlane()
        let source = ScriptedSource([.map(worker.map), .unreachable, .unreachable, .map(worker.map)])
        let agent = try Agent(state: worker.state, source: source, host: host, logger: Logger(label: "test"))
        #expect(await Self.run(agent) { await source.polls >= 5 }, "the agent polls again after failures")
        #expect(await host.restartedSessions == [worker.hubKey], "one fresh session with the hub once the control plane answers again")
    }

    /// After a move the master's version is unchanged: a long-poll would park until its
    /// timeout, and the fresh session the moved hub needs with it.
    @Test func anAgentStartedAfterAMoveStartsAFreshSessionAtTheFirstAnswerOfAnUnchangedMaster() async throws {
        let worker = try Self.worker()
        defer { try? FileManager.default.removeItem(atPath: worker.state.root) }
        let host = RecordingHostPlane()
        let source = ScriptedSource([], unchanged: worker.map)
        let agent = try Agent(state: worker.state, source: source, host: host, logger: Logger(label: "test"), freshSessionOnFirstAnswer: true)
        #expect(await Self.run(agent) {
            let restarted = await host.restartedSessions, polls = await source.polls
            return restarted == [worker.hubKey] && polls >= 2
        }, "a fresh session with the hub at once")
        #expect(await source.waits.prefix(2) == [0, 25], "the first poll asks without waiting, the next one long-polls")
    }

    @Test func aPollAfterAFailureDoesNotWait() async throws {
        let worker = try Self.worker()
        defer { try? FileManager.default.removeItem(atPath: worker.state.root) }
        let source = ScriptedSource([.map(worker.map), .unreachable, .map(worker.map)])
        let agent = try Agent(state: worker.state, source: source, host: RecordingHostPlane(), logger: Logger(label: "test"))
        #expect(await Self.run(agent) { await source.polls >= 4 })
        #expect(await source.waits.prefix(4) == [25, 25, 0, 25])
    }

    @Test func anAgentThatNeverLostTheControlPlaneKeepsItsSession() async throws {
        let worker = try Self.worker()
        defer { try? FileManager.default.removeItem(atPath: worker.state.root) }
        let host = RecordingHostPlane()
        let source = ScriptedSource([.map(worker.map), .map(worker.map)])
        let agent = try Agent(state: worker.state, source: source, host: host, logger: Logger(label: "test"))
        #expect(await Self.run(agent) { await source.polls >= 3 })
        #expect(await host.restartedSessions.isEmpty, "an agent (re)start or a normal answer restarts no session")
    }

    @Test func aStaleHandshakeWithTheHubStartsAFreshSessionAtMostOnceAMinute() async throws {
        let worker = try Self.worker()
        defer { try? FileManager.default.removeItem(atPath: worker.state.root) }
        // The hub last answered 200 s ago: past WireGuard's reject-after time (180 s).
        let host = RecordingHostPlane(handshakeAge: 200)
        let source = ScriptedSource([.map(worker.map)])
        let agent = try Agent(state: worker.state, source: source, host: host, logger: Logger(label: "test"), repairInterval: .milliseconds(20))
        #expect(await Self.run(agent) { await host.applied.count >= 10 }, "the agent repairs")
        #expect(await host.restartedSessions == [worker.hubKey], "one fresh session for a stale handshake, not one per repair")
    }

    @Test func aFreshHandshakeStartsNoSession() async throws {
        let worker = try Self.worker()
        defer { try? FileManager.default.removeItem(atPath: worker.state.root) }
        let host = RecordingHostPlane(handshakeAge: 170)
        let agent = try Agent(state: worker.state, source: ScriptedSource([.map(worker.map)]), host: host, logger: Logger(label: "test"),
                              repairInterval: .milliseconds(20))
        #expect(await Self.run(agent) { await host.applied.count >= 10 })
        #expect(await host.restartedSessions.isEmpty)
    }

    @Test func aMapThatMovesTheMasterIsReportedBeforeItIsCached() async throws {
        let worker = try Self.worker(endpoint: "192.0.2.1", version: 3)
        defer { try? FileManager.default.removeItem(atPath: worker.state.root) }
        // The same federation, the hub now at another endpoint.
        let nodes = [NodeRecord(name: "master", domain: "crisis", address: worker.map.masterAddress, publicKey: worker.hubKey, isMaster: true), worker.map.node]
        let facts = FederationFacts(name: "relief", cidr: worker.map.cidr, endpointHost: "master.example.org", wireGuardPort: 51820, apiPort: 7443)
        let next = try #require(NetworkMap.compute(for: "a1", nodes: nodes, facts: facts, version: 4))
        let reported = Reported()
        let state = worker.state
        let agent = try Agent(state: worker.state, source: ScriptedSource([.map(worker.map), .map(next)]), host: RecordingHostPlane(),
                              logger: Logger(label: "test"), masterMoved: { host in await reported.add(host, cachedVersion: state.cachedMap()?.version) })
        #expect(await Self.run(agent) { await reported.hosts == ["master.example.org"] })
        #expect(await reported.cachedVersions == [3], "told before the new map is cached")
        #expect(next.masterEndpointHost == "master.example.org" && worker.map.masterEndpointHost == "192.0.2.1")
    }

    /// The cache is written off the agent's path, the latest map only, and is on disk once the
    /// agent stops.
    @Test func theCacheHoldsTheLatestMapOnceTheAgentStops() async throws {
        let worker = try Self.worker(version: 3)
        defer { try? FileManager.default.removeItem(atPath: worker.state.root) }
        let maps = (4...30).map { worker.map.at(version: Int64($0)) }
        let source = ScriptedSource(maps.map { .map($0) })
        let host = RecordingHostPlane()
        let agent = try Agent(state: worker.state, source: source, host: host, logger: Logger(label: "test"))
        #expect(await Self.run(agent) { await source.polls > maps.count })
        #expect(worker.state.cachedMap() == maps.last)
    }

    actor Reported {
        var hosts: [String] = []
        var cachedVersions: [Int64?] = []
        func add(_ host: String, cachedVersion: Int64?) {
            hosts.append(host)
            cachedVersions.append(cachedVersion)
        }
    }
}
