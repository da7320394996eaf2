import Foundation
import FuseControl
import FuseModel
import FuseSystem
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

extension TestClientProtocol {
    func mapUpdate(_ credential: String, since: Int64, wait: Int = 0, full: Bool = false) async throws -> MapUpdate {
        let response = try await send(.get, "/v1/map/updates?since=\(since)&wait=\(wait)\(full ? "&full=1" : "")", bearer: credential)
        try #require(response.status == .ok, "\(response.text)")
        return try response.decode(MapUpdate.self)
    }
}

/// A node as the agent keeps it: the last map, moved on by each update.
actor FollowingNode {
    let credential: String
    private(set) var map: NetworkMap

    init(credential: String, map: NetworkMap) {
        self.credential = credential
        self.map = map
    }

    /// One long-poll; returns the update's kind.
    @discardableResult
    func poll(_ client: any TestClientProtocol, wait: Int) async throws -> String {
        let update = try await client.mapUpdate(credential, since: map.version, wait: wait)
        map = try update.applied(to: map)
        return update.delta == nil ? "full" : "delta"
    }
}

@Suite struct MapUpdateAPITests {
    /// Every companyA node lists every other one: a policy whose maps change with each join.
    static let sshWithinCompanyA = """
    {"rules": [{"from": ["domain:crisis"], "to": ["exposure:*"]}, {"from": ["domain:companya"], "to": ["domain:companya"], "proto": "tcp", "ports": [22]}]}
    """

    @Test func aNodeAtItsVersionGetsDeltasThatGiveTheFullMap() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            let node = FollowingNode(credential: workers.aCredential, map: workers.a.map)
            #expect(try await client.expose(wikiRequest, bearer: workers.aCredential).status == .created)
            #expect(try await node.poll(client, wait: 5) == "delta")
            #expect(await node.map == (try await client.map(workers.aCredential)))
            #expect(await node.map.firewall.exposures.count == 1)

            // Nothing changed: an empty delta after the wait, at the same version.
            let version = await node.map.version
            let update = try await client.mapUpdate(workers.aCredential, since: version, wait: 0)
            #expect(update.delta?.isEmpty == true)
            #expect(update.version == version)
        }
    }

    /// A poll says which version the node's host applied (`applied`), noted as a heartbeat's
    /// would be: the node list shows it at once, without a heartbeat after each map. A bad
    /// value is refused in one line and notes nothing.
    @Test func aPollTellsTheMasterWhichVersionTheNodeApplied() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            let version = workers.a.map.version
            func applied() async throws -> Int64? {
                try await harness.controlPlane.nodes().first { $0.name == "worker-a" }?.mapVersion
            }
            #expect(try await applied() != version)
            for path in ["/v1/map/updates?since=\(version)&applied=\(version)&wait=0", "/v1/map?since=0&applied=\(version)&wait=0"] {
                let response = try await client.send(.get, path, bearer: workers.aCredential)
                #expect(response.status == .ok, "\(path): \(response.text)")
            }
            #expect(try await applied() == version)
            let bad = try await client.send(.get, "/v1/map/updates?since=\(version)&applied=-3&wait=0", bearer: workers.bCredential)
            #expect(bad.status == .badRequest, "\(bad.status)")
            #expect(bad.text.contains("bad applied"), "\(bad.text)")
            #expect(try await harness.controlPlane.nodes().first { $0.name == "worker-b" }?.mapVersion == nil)
        }
    }

    /// While a hub reports what it applied, a change wakes the nodes once the hub applied it
    /// (their new maps are of use once the hub forwards as they say), or after the head start
    /// when the hub does not.
    @Test func nodesAreWokenAfterTheHubAppliedAChange() async throws {
        for hubApplies in [true, false] {
            try await Harness.with(hubHeadStart: hubApplies ? .seconds(60) : .milliseconds(20)) { harness in
                let controlPlane = harness.controlPlane
                let joined = try await controlPlane.join(API.JoinRequest(token: try harness.token().token, name: "a1",
                                                                         publicKey: WireGuardKey.generatePrivate().publicKey))
                let version = joined.map.version
                await controlPlane.hubApplied(version: version)
                let poll = Task { try await controlPlane.mapUpdate(for: "a1", since: version, wait: .seconds(30), full: false) }
                let exposed = Task { try await controlPlane.expose(wikiRequest, by: .node("a1")) }
                if hubApplies {
                    try await Task.sleep(for: .milliseconds(300))
                    let status = try await controlPlane.status()
                    #expect(status.mapVersion == version + 1)
                    #expect(await controlPlane.waitingLongPolls() == 1, "a1 is not woken before the hub applied the exposure")
                    await controlPlane.hubApplied(version: version + 1)
                }
                let update = try API.decoder().decode(MapUpdate.self, from: try await poll.value)
                #expect(update.version == version + 1)
                #expect(try await exposed.value.name == "Wiki")
            }
        }
    }

    /// A version that a read brings in (the store moved on before its change was published)
    /// wakes the long-polls it concerns there: the change's own publication then finds
    /// nothing left to publish, and they would otherwise sleep until their timeout.
    @Test func aSnapshotBroughtUpToTheStoreByAReadWakesTheNodesItConcerns() async throws {
        try await Harness.with { harness in
            let controlPlane = harness.controlPlane
            let joined = try await controlPlane.join(API.JoinRequest(token: try harness.token().token, name: "a1",
                                                                     publicKey: WireGuardKey.generatePrivate().publicKey))
            let version = joined.map.version
            let answered = Mutex<Int64?>(nil)
            let poll = Task {
                let body = try await controlPlane.mapUpdate(for: "a1", since: version, wait: .seconds(60), full: false)
                answered.withLock { $0 = try? API.decoder().decode(MapUpdate.self, from: body).version }
            }
            defer { poll.cancel() }
            #expect(await waitFor(.seconds(5)) { await controlPlane.waitingLongPolls() == 1 })
            // Written behind the control plane's back, as a change is before it is published.
            try harness.store.addExposure(Exposure(name: "cam", node: "a1", domain: "companya", proto: .tcp, port: 8080,
                                                   target: IPv4Address("192.168.1.5")!, targetPort: 80))
            _ = try await controlPlane.map(for: "master")
            #expect(await waitFor(.seconds(10)) { answered.withLock { $0 } == version + 1 }, "a1 woken with the exposure's version")
        }
    }

    @Test func aNodeThatMissedDeltasOrAsksGetsTheFullMap() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            #expect(try await client.expose(wikiRequest, bearer: workers.aCredential).status == .created)
            let latest = try await client.mapUpdate(workers.aCredential, since: workers.a.map.version, wait: 0)
            #expect(latest.delta != nil)
            // Back at the join's version (a missed update, a restart from an old cache): full.
            let missed = try await client.mapUpdate(workers.aCredential, since: workers.a.map.version, wait: 0)
            #expect(missed.full == (try await client.map(workers.aCredential)))
            // At the latest version but asking for a whole map.
            let asked = try await client.mapUpdate(workers.aCredential, since: latest.version, wait: 0, full: true)
            #expect(asked.full?.firewall.exposures.count == 1)
        }
    }

    @Test func aPollWakesOnlyForItsOwnMap() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            let clock = ContinuousClock()
            let credential = workers.bCredential, since = workers.b.map.version
            let poll = Task {
                let update = try await client.mapUpdate(credential, since: since, wait: 2)
                return (update, clock.now)
            }
            try await harness.waitForParkedPoll()
            // worker-a's exposure and a newcomer leave worker-b's map as it is (default policy).
            let start = clock.now
            #expect(try await client.expose(wikiRequest, bearer: workers.aCredential).status == .created)
            let (_, token) = try await client.createToken(domain: "companyc")
            #expect(try await client.join(token: token, name: "newcomer").status == .created)
            let (quiet, returnedAt) = try await poll.value
            #expect(quiet.delta?.isEmpty == true)
            #expect(returnedAt - start >= .milliseconds(1500), "woken by a change that is not its own")

            // A policy change wakes it at once.
            let version = quiet.version
            let woken = Task { try await client.mapUpdate(credential, since: version, wait: 10) }
            try await harness.waitForParkedPoll()
            let setAt = clock.now
            #expect(try await client.putPolicy(PolicyRouteTests.good).status == .ok)
            let update = try await woken.value
            #expect(update.version > version)
            #expect(clock.now - setAt < .seconds(5))
        }
    }

    /// Joins, exposures, leaves and policies while every node follows its map by deltas: once
    /// the changes stop, every node holds exactly the map the master computes for it.
    @Test func concurrentJoinsAndChangesLeaveEveryNodeWithTheMastersMap() async throws {
        try await Harness.withAPI { harness, client in
            let (_, token) = try await client.createToken(domain: "companya", uses: 60)
            var nodes: [String: FollowingNode] = [:]
            for index in 0..<8 {
                let joined = try await client.join(token: token, name: "w\(index)").decode(API.JoinResponse.self)
                nodes["w\(index)"] = FollowingNode(credential: joined.credential, map: joined.map)
            }
            let followers = nodes
            let stop = ManagedFlag()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for node in followers.values {
                    group.addTask { while !stop.isSet { try await node.poll(client, wait: 1) } }
                }
                group.addTask {
                    defer { stop.set() }
                    try await withThrowingTaskGroup(of: Void.self) { changes in
                        for index in 0..<12 {
                            changes.addTask { _ = try await client.join(token: token, name: "late\(index)") }
                        }
                        changes.addTask {
                            for index in 0..<4 {
                                let request = API.ExposeRequest(name: "svc\(index)", proto: .tcp, port: 9000, target: IPv4Address("192.168.10.\(index + 2)")!, targetPort: 80, node: "w\(index)")
                                _ = try await client.send(.post, "/v1/exposures", bearer: Harness.admin, json: request)
                            }
                        }
                        changes.addTask {
                            _ = try await client.putPolicy(Self.sshWithinCompanyA)
                            _ = try await client.send(.delete, "/v1/nodes/late0", bearer: Harness.admin)
                        }
                        try await changes.waitForAll()
                    }
                }
                try await group.waitForAll()
            }
            // One more poll each (a change may have landed after a node's last answer).
            for (name, node) in followers {
                try await node.poll(client, wait: 0)
                let master = try #require(try await harness.controlPlane.map(for: name))
                #expect(await node.map.at(version: 0) == master.at(version: 0), "\(name) differs from the master's view")
            }
        }
    }
}

/// A flag set once, read from many tasks.
final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

