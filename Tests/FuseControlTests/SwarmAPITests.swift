import Foundation
import FuseControl
import FuseModel
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// A Swarm manager that records what the control plane asks of it.
final class FakeSwarm: SwarmControl {
    struct State {
        var addresses: [String: String] = [:]
        var labels: [String: String] = [:]
        var drained: [String] = []
        var removed: [String] = []
    }
    let state = Mutex(State())

    func workerJoinToken() throws -> String { "SWMTKN-1-test" }
    func address(ofNode id: String) throws -> String? { state.withLock { $0.addresses[id] } }
    func label(node id: String, domain: String, name: String) throws { state.withLock { $0.labels[id] = "\(domain)/\(name)" } }
    func drain(node id: String, timeout: Duration) async throws -> Int {
        state.withLock { $0.drained.append(id) }
        return 0
    }
    func remove(node id: String) throws { state.withLock { $0.removed.append(id) } }
}

/// Engines in the Swarm: subnets at join, the join token only over the API, labels, drain,
/// removal.
struct SwarmAPITests {
    static let engines = "10.213.0.0/16"

    func enrol(_ client: some TestClientProtocol, name: String, workloads: Bool?) async throws -> API.JoinResponse {
        let (_, token) = try await client.createToken()
        let response = try await client.join(token: token, name: name, workloads: workloads)
        #expect(response.status == .created)
        return try response.decode(API.JoinResponse.self)
    }

    @Test func nodesThatRunWorkloadsGetTheirOwnEngineSubnet() async throws {
        try await Harness.withAPI(engineCIDR: Self.engines, swarm: FakeSwarm()) { harness, client in
            let w1 = try await enrol(client, name: "w1", workloads: true)
            let w2 = try await enrol(client, name: "w2", workloads: true)
            let plain = try await enrol(client, name: "plain", workloads: nil)
            #expect(try harness.store.nodes().first(where: \.isMaster)?.engineSubnet == IPv4CIDR(parsing: "10.213.0.0/24"))
            #expect(w1.map.node.engineSubnet == (try IPv4CIDR(parsing: "10.213.1.0/24")))
            #expect(w2.map.node.engineSubnet == (try IPv4CIDR(parsing: "10.213.2.0/24")))
            #expect(plain.map.node.engineSubnet == nil)
            // Swarm's ports are open between engines, not to the node without one.
            let current = try await client.send(.get, "/v1/map", bearer: w1.credential).decode(NetworkMap.self)
            #expect(current.firewall.inbound.contains { $0.port == SwarmPorts.gossip && $0.sources.contains(w2.map.node.address) })
            #expect(!current.firewall.inbound.contains { $0.port == SwarmPorts.gossip && $0.sources.contains(plain.map.node.address) })
        }
    }

    @Test func aFederationWithoutWorkloadsGivesNoSubnet() async throws {
        try await Harness.withAPI { _, client in
            let node = try await enrol(client, name: "w1", workloads: true)
            #expect(node.map.node.engineSubnet == nil)
            let answer = try await client.send(.get, "/v1/swarm", bearer: node.credential)
            expectError(answer, .conflict)
        }
    }

    @Test func theJoinTokenGoesOnlyToNodesWithAnEngine() async throws {
        try await Harness.withAPI(engineCIDR: Self.engines, swarm: FakeSwarm()) { _, client in
            let w1 = try await enrol(client, name: "w1", workloads: true)
            let plain = try await enrol(client, name: "plain", workloads: false)
            let join = try await client.send(.get, "/v1/swarm", bearer: w1.credential)
            #expect(join.status == .ok)
            #expect(try join.decode(SwarmJoin.self) == SwarmJoin(manager: "10.77.0.1:2377", token: "SWMTKN-1-test"))
            expectError(try await client.send(.get, "/v1/swarm"), .unauthorized)
            expectError(try await client.send(.get, "/v1/swarm", bearer: Harness.admin), .unauthorized)
            expectError(try await client.send(.get, "/v1/swarm", bearer: plain.credential), .conflict)
        }
    }

    @Test func aNodeIsLabelledOnlyForItsOwnEngine() async throws {
        let swarm = FakeSwarm()
        swarm.state.withLock { $0.addresses = ["abc123": "10.77.0.2", "other99": "10.77.0.3"] }
        try await Harness.withAPI(engineCIDR: Self.engines, swarm: swarm) { harness, client in
            let w1 = try await enrol(client, name: "w1", workloads: true)
            #expect(w1.map.node.address.description == "10.77.0.2")
            let ok = try await client.send(.put, "/v1/swarm/node", bearer: w1.credential, json: API.SwarmNode(id: "abc123"))
            #expect(ok.status == .noContent)
            #expect(swarm.state.withLock { $0.labels } == ["abc123": "companya/w1"])
            expectError(try await client.send(.put, "/v1/swarm/node", bearer: w1.credential, json: API.SwarmNode(id: "other99")), .forbidden)
            expectError(try await client.send(.put, "/v1/swarm/node", bearer: w1.credential, json: API.SwarmNode(id: "nosuch")), .notFound)
            expectError(try await client.send(.put, "/v1/swarm/node", bearer: w1.credential, json: API.SwarmNode(id: "a b;rm")), .badRequest)
            #expect(try harness.store.swarmID(of: "w1") == "abc123")

            // Leave: drained, then out of the Swarm.
            let drained = try await client.send(.post, "/v1/swarm/drain", bearer: w1.credential)
            #expect(drained.status == .ok)
            #expect(try drained.decode(API.DrainResult.self).remaining == 0)
            #expect(try await client.send(.post, "/v1/leave", bearer: w1.credential).status == .noContent)
            #expect(swarm.state.withLock { ($0.drained, $0.removed) } == (["abc123"], ["abc123"]))
        }
    }

    @Test func removingANodeTakesItOutOfTheSwarm() async throws {
        let swarm = FakeSwarm()
        swarm.state.withLock { $0.addresses = ["abc123": "10.77.0.2"] }
        try await Harness.withAPI(engineCIDR: Self.engines, swarm: swarm) { _, client in
            let w1 = try await enrol(client, name: "w1", workloads: true)
            _ = try await client.send(.put, "/v1/swarm/node", bearer: w1.credential, json: API.SwarmNode(id: "abc123"))
            #expect(try await client.send(.delete, "/v1/nodes/w1", bearer: Harness.admin).status == .noContent)
            #expect(swarm.state.withLock { $0.removed } == ["abc123"])
        }
    }
}
