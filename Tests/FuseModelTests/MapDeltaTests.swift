import Foundation
import FuseModel
import Testing

/// A federation that changes at random (joins, leaves, exposures, policies), one snapshot per
/// version, seeded so that a failure repeats.
struct EvolvingFederation {
    var rng: SeededRandom
    var version: Int64 = 1
    var nodes: [NodeRecord]
    var exposures: [Exposure] = []
    var policy = Policy.defaultPolicy(masterDomain: "crisis")
    var serial = 0
    static let facts = FederationFacts(name: "fed", cidr: try! IPv4CIDR(parsing: "10.9.0.0/24"), endpointHost: "master.example.org",
                                       wireGuardPort: 51820, apiPort: 7443)
    static let domains = ["crisis", "companya", "companyb"]
    static let policies: [Policy] = [
        .defaultPolicy(masterDomain: "crisis"),
        Policy(rules: [PolicyRule(from: ["domain:companya"], to: ["domain:companyb"], proto: .tcp, ports: [22])]),
        Policy(rules: [PolicyRule(from: ["*"], to: ["exposure:*"]), PolicyRule(from: ["domain:crisis"], to: ["*"], proto: .icmp)]),
    ]

    init(seed: UInt64) {
        rng = SeededRandom(seed: seed)
        nodes = [NodeRecord(name: "master", domain: "crisis", address: IPv4Address("10.9.0.1")!, publicKey: WireGuardKey.generatePrivate().publicKey,
                            isMaster: true, engineSubnet: try! IPv4CIDR(parsing: "172.30.0.0/24"))]
    }

    var snapshot: FederationSnapshot {
        FederationSnapshot(version: version, nodes: nodes, exposures: exposures, policy: policy, facts: Self.facts)
    }

    /// One random change, and the next version; returns the change as the store's journal
    /// records it.
    @discardableResult mutating func step() -> FederationChange {
        version += 1
        let workers = nodes.filter { !$0.isMaster }
        switch rng.next(below: 10) {
        case 0..<5 where nodes.count < 40, 0 where workers.isEmpty:
            serial += 1
            let used = Set(nodes.map(\.address))
            // The lowest free address, as the store allocates: a leave's address comes back.
            let address = (2...250).map { IPv4Address(0x0a09_0000 + UInt32($0)) }.first { !used.contains($0) }!
            let workloads = rng.next(below: 2) == 0
            let node = NodeRecord(name: "n\(serial)", domain: Self.domains[rng.next(below: 3)], address: address,
                                  publicKey: WireGuardKey.generatePrivate().publicKey, isMaster: false,
                                  engineSubnet: workloads ? try! IPv4CIDR(parsing: "172.30.\(serial % 250 + 1).0/24") : nil)
            nodes.append(node)
            return .joined(node)
        case 0..<7 where !workers.isEmpty:
            let gone = workers[rng.next(below: workers.count)]
            nodes.removeAll { $0.name == gone.name }
            exposures.removeAll { $0.node == gone.name }
            return .left(gone.name)
        case 7...8 where !workers.isEmpty:
            serial += 1
            let owner = workers[rng.next(below: workers.count)]
            // Now and then on a port another node's exposure has, as the store allows.
            let exposure = Exposure(name: "svc\(serial)", node: owner.name, domain: owner.domain, proto: .tcp,
                                    port: UInt16(8000 + (rng.next(below: 3) == 0 ? 1 : serial)), target: IPv4Address("192.168.1.10")!, targetPort: 80)
            guard !exposures.contains(where: { $0.node == owner.name && $0.port == exposure.port }) else { return .other }
            // In the store's order: by node, port, name.
            exposures.insert(exposure, at: exposures.firstIndex { Exposure.storeOrder(exposure, $0) } ?? exposures.endIndex)
            return .exposed(exposure)
        default:
            if !exposures.isEmpty, rng.next(below: 2) == 0 { return .unexposed(exposures.remove(at: rng.next(below: exposures.count)).name) }
            policy = Self.policies[rng.next(below: Self.policies.count)]
            return .other
        }
    }
}

struct SeededRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next(below bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }
}


@Suite struct MapDeltaTests {
    @Test func everyDeltaFromTheFirstMapGivesExactlyTheFullMap() throws {
        for seed in UInt64(1)...6 {
            var federation = EvolvingFederation(seed: seed)
            // The hub from version 1, every worker from its join on.
            var held: [String: NetworkMap] = ["master": try #require(federation.snapshot.map(for: "master"))]
            for _ in 0..<60 {
                federation.step()
                let snapshot = federation.snapshot
                for node in snapshot.nodes {
                    let full = try #require(snapshot.map(for: node.name))
                    guard let old = held[node.name] else { held[node.name] = full; continue }
                    let delta = MapDelta(from: old, to: full)
                    let applied = try MapUpdate.delta(delta).applied(to: old)
                    #expect(applied == full, "seed \(seed), node \(node.name), version \(snapshot.version)")
                    held[node.name] = applied
                }
                held = held.filter { name, _ in snapshot.nodes.contains { $0.name == name } }
            }
        }
    }

    @Test func aDeltaForAnotherVersionIsRefused() throws {
        var federation = EvolvingFederation(seed: 7)
        let first = try #require(federation.snapshot.map(for: "master"))
        federation.step()
        federation.step()
        let third = try #require(federation.snapshot.map(for: "master"))
        let delta = MapDelta(from: first, to: third)
        let older = NetworkMap(version: 0, federation: first.federation, cidr: first.cidr, node: first.node, isHub: true, peers: [],
                               masterAddress: first.masterAddress, apiPort: first.apiPort)
        #expect(throws: MapUpdateError("a map delta from version 1 does not apply to version 0")) { try delta.applied(to: older) }
        #expect(throws: MapUpdateError("a map delta from version 1 arrived without a map to apply it to")) { try MapUpdate.delta(delta).applied(to: nil) }
        #expect(try MapUpdate.full(third).applied(to: older) == third)
    }

    @Test func anUnknownFormatIsRefused() throws {
        let map = try #require(EvolvingFederation(seed: 1).snapshot.map(for: "master"))
        var json = String(decoding: try API.encoder().encode(MapUpdate.full(map)), as: UTF8.self)
        json = json.replacingOccurrences(of: "\"format\":1", with: "\"format\":2")
        let update = try API.decoder().decode(MapUpdate.self, from: Data(json.utf8))
        #expect(throws: MapUpdateError("map update format 2 is not known here (this agent knows 1)")) { try update.applied(to: map) }
    }

    @Test func anUnchangedMapGivesAnEmptyDelta() throws {
        let federation = EvolvingFederation(seed: 3)
        let map = try #require(federation.snapshot.map(for: "master"))
        let delta = MapDelta(from: map, to: map)
        #expect(delta.isEmpty)
        #expect(String(decoding: try API.encoder().encode(delta), as: UTF8.self) == #"{"from":1,"peers":[],"removedPeers":[],"version":1}"#)
    }

    @Test func aJoinChangesTheHubAndTheNewcomerOnlyUnderTheDefaultPolicy() throws {
        var federation = EvolvingFederation(seed: 11)
        while federation.nodes.count < 6 { federation.step() }
        federation.policy = .defaultPolicy(masterDomain: "crisis")
        federation.exposures = []
        let before = federation.snapshot
        federation.version += 1
        federation.nodes.append(NodeRecord(name: "late", domain: "companyb", address: IPv4Address("10.9.0.200")!,
                                           publicKey: WireGuardKey.generatePrivate().publicKey, isMaster: false))
        #expect(federation.snapshot.changedNodes(since: before) == ["master", "late"])
        federation.version += 1
        federation.policy = EvolvingFederation.policies[1]
        #expect(federation.snapshot.changedNodes(since: before) == nil, "a new policy may change every map")
    }

    /// The nodes a change may touch include every node whose map it changes.
    @Test func changedNodesIncludeEveryNodeWhoseMapChanged() throws {
        for seed in UInt64(100)...110 {
            var federation = EvolvingFederation(seed: seed)
            var previous = federation.snapshot
            for _ in 0..<60 {
                federation.step()
                let snapshot = federation.snapshot
                if let changed = snapshot.changedNodes(since: previous) {
                    for node in snapshot.nodes where snapshot.map(for: node.name)?.at(version: 0) != previous.map(for: node.name)?.at(version: 0) {
                        #expect(changed.contains(node.name), "seed \(seed), version \(snapshot.version): \(node.name) changed unannounced")
                    }
                }
                previous = snapshot
            }
        }
    }

    /// A snapshot that follows joins, leaves and exposures (`applying`) gives every node exactly
    /// the map that a snapshot built from the whole federation gives, and announces the same
    /// nodes as changed; any other change asks for a build.
    @Test func aSnapshotFollowingJoinsLeavesAndExposuresGivesTheMapsOfABuild() throws {
        for seed in UInt64(200)...211 {
            var federation = EvolvingFederation(seed: seed)
            var followed = federation.snapshot
            var rebuiltBefore = followed
            var pending: [FederationChange] = []
            for _ in 0..<80 {
                pending.append(federation.step())
                // Several versions at once now and then, as a burst of joins shares one build.
                guard seed % 2 == 0 || federation.rng.next(below: 3) == 0 else { continue }
                let rebuilt = federation.snapshot
                if let next = followed.applying(pending, version: rebuilt.version) {
                    #expect(!pending.contains(.other), "seed \(seed): followed a change that needs a build")
                    #expect(Set(next.nodes) == Set(rebuilt.nodes) && next.exposures == rebuilt.exposures)
                    for node in rebuilt.nodes {
                        #expect(next.map(for: node.name) == rebuilt.map(for: node.name), "seed \(seed), version \(rebuilt.version), node \(node.name)")
                    }
                    #expect(next.changedNodes(since: followed) == rebuilt.changedNodes(since: rebuiltBefore), "seed \(seed), version \(rebuilt.version)")
                    followed = next
                } else {
                    #expect(pending.contains(.other), "seed \(seed): a join, a leave or an exposure was not followed")
                    followed = rebuilt
                }
                rebuiltBefore = rebuilt
                pending = []
            }
        }
    }

    @Test func aSnapshotRefusesChangesThatDoNotFitIt() throws {
        var federation = EvolvingFederation(seed: 5)
        while federation.nodes.count < 4 { federation.step() }
        let snapshot = federation.snapshot
        let worker = try #require(snapshot.nodes.first { !$0.isMaster })
        #expect(snapshot.applying([.joined(worker)], version: snapshot.version + 1) == nil, "a node that is there already")
        #expect(snapshot.applying([.left("nobody")], version: snapshot.version + 1) == nil, "a node that is not there")
        #expect(snapshot.applying([.left("master")], version: snapshot.version + 1) == nil, "the master")
        #expect(snapshot.applying([.left(worker.name)], version: snapshot.version) == nil, "not a newer version")
        #expect(snapshot.applying([.left(worker.name)], version: snapshot.version + 1)?.map(for: worker.name) == nil)
        let camera = Exposure(name: "cam", node: worker.name, domain: worker.domain, proto: .tcp, port: 554, target: IPv4Address("192.168.1.20")!, targetPort: 554)
        let exposed = try #require(snapshot.applying([.exposed(camera)], version: snapshot.version + 1))
        #expect(exposed.exposures.contains(camera))
        #expect(snapshot.applying([.exposed(Exposure(name: "cam", node: "nobody", domain: "crisis", proto: .tcp, port: 554, target: camera.target, targetPort: 554))],
                                  version: snapshot.version + 1) == nil, "an exposure of a node that is not there")
        #expect(exposed.applying([.exposed(camera)], version: exposed.version + 1) == nil, "an exposure that is there already")
        #expect(snapshot.applying([.unexposed("cam")], version: snapshot.version + 1) == nil, "an exposure that is not there")
        #expect(exposed.applying([.unexposed("cam")], version: exposed.version + 1)?.exposures.contains(camera) == false)
    }

    /// The compiled policy gives what the node-by-node evaluation decides.
    @Test func compiledFirewallsAgreeWithDecisions() throws {
        var federation = EvolvingFederation(seed: 42)
        for _ in 0..<50 { federation.step() }
        federation.policy = EvolvingFederation.policies[2]
        let snapshot = federation.snapshot
        let context = PolicyContext(master: try #require(snapshot.master), apiPort: 7443)
        for node in snapshot.nodes where !node.isMaster {
            let firewall = try #require(snapshot.map(for: node.name)).firewall
            let icmpSources = Set(firewall.inbound.filter { $0.proto == .icmp }.flatMap(\.sources))
            for source in snapshot.nodes where source.name != node.name {
                let decided = snapshot.policy.decide(source: source, destination: .node(node), proto: .icmp, port: nil, context: context).allowed
                #expect(icmpSources.contains(source.address) == decided, "\(source.name) → \(node.name)")
            }
        }
    }
}
