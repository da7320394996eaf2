import FuseModel
import Testing

/// The map → host step as a pure function: what each kind of node's host should hold.
@Suite struct HostPlanTests {
    let cidr = try! IPv4CIDR(parsing: "100.64.0.0/16")
    var facts: FederationFacts {
        FederationFacts(name: "crisis", cidr: cidr, endpointHost: "203.0.113.10", wireGuardPort: 51820, apiPort: 7443)
    }
    let hub = NodeRecord(name: "hub", domain: "crisis", address: IPv4Address("100.64.0.1")!, publicKey: key(0x01), isMaster: true)
    let worker = NodeRecord(name: "a1", domain: "companya", address: IPv4Address("100.64.0.2")!, publicKey: key(0x02), isMaster: false)
    let engineWorker = NodeRecord(name: "b1", domain: "companyb", address: IPv4Address("100.64.0.3")!, publicKey: key(0x03), isMaster: false,
                                  engineSubnet: try! IPv4CIDR(parsing: "10.213.3.0/24"))

    func plan(_ name: String, firewall: NodeFirewall? = nil) throws -> HostPlan {
        var map = try #require(NetworkMap.compute(for: name, nodes: [hub, worker, engineWorker], facts: facts, version: 4))
        if let firewall {
            map = NetworkMap(version: map.version, federation: map.federation, cidr: map.cidr, node: map.node, isHub: map.isHub, peers: map.peers,
                             masterAddress: map.masterAddress, apiPort: map.apiPort, firewall: firewall)
        }
        return HostPlan(map: map, interface: "fuse0", privateKey: key(0x77), listenPort: nil) { $0 }
    }

    @Test func aWorkerHasItsAddressTheHubAndItsTable() throws {
        let plan = try plan("a1")
        #expect(plan.interface == "fuse0")
        #expect(plan.address == "100.64.0.2/16")
        #expect(plan.mtu == 1420)
        #expect(plan.device.privateKey == key(0x77))
        #expect(plan.device.peers.map(\.endpoint) == ["203.0.113.10:51820"])
        #expect(plan.tableName == "fuse_fuse0")
        #expect(plan.ruleset.text.hasPrefix("table inet fuse_fuse0"))
        #expect(plan.forwarding == nil)
        #expect(plan.engine == nil)
        #expect(!plan.isHub)
    }

    @Test func aRelayedWorkerReachesTheHubThroughTheRelaysLocalSocket() throws {
        var map = try #require(NetworkMap.compute(for: "a1", nodes: [hub, worker, engineWorker], facts: facts, version: 4))
        let relayed = HostPlan(map: map, interface: "fuse0", privateKey: key(0x77), listenPort: nil, resolve: { $0 }, relayEndpoint: "127.0.0.1:41000")
        #expect(relayed.device.peers.map(\.endpoint) == ["127.0.0.1:41000"])
        #expect(relayed.device.peers.map(\.allowedIPs) == (try plan("a1")).device.peers.map(\.allowedIPs))
        // The hub's peers dial in: never a relay endpoint there.
        map = try #require(NetworkMap.compute(for: "hub", nodes: [hub, worker, engineWorker], facts: facts, version: 4))
        let hubPlan = HostPlan(map: map, interface: "fuse0", privateKey: key(0x77), listenPort: 51820, resolve: { $0 }, relayEndpoint: "127.0.0.1:41000")
        #expect(hubPlan.device.peers.allSatisfy { $0.endpoint == nil })
    }

    @Test func forwardingIsOnForTheHubWorkloadsAndExposuresOnly() throws {
        #expect(try plan("hub").forwarding == .hub)
        #expect(try plan("hub").isHub)
        #expect(try plan("b1").forwarding == .workloads)
        #expect(try plan("b1").engine?.subnet.description == "10.213.3.0/24")
        let camera = Exposure(name: "camera", node: "a1", domain: "companya", proto: .tcp, port: 8554, target: IPv4Address("192.168.10.11")!, targetPort: 554)
        let exposing = try plan("a1", firewall: NodeFirewall(exposures: [ExposureRule(exposure: camera, sources: [])]))
        #expect(exposing.forwarding == .exposures)
    }

    @Test func theSameMapGivesTheSamePlan() throws {
        #expect(try plan("a1") == plan("a1"))
        #expect(try plan("a1") != plan("b1"))
    }
}
