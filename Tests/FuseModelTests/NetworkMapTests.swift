import Foundation
import FuseModel
import Testing

/// A fixed key whose 32 bytes are all `byte` (readable hex in expected strings).
func key(_ byte: UInt8) -> WireGuardKey {
    WireGuardKey(bytes: [UInt8](repeating: byte, count: 32))!
}

@Suite struct NetworkMapTests {
    let cidr = try! IPv4CIDR(parsing: "100.64.0.0/16")
    var facts: FederationFacts {
        FederationFacts(name: "crisis", cidr: cidr, endpointHost: "203.0.113.10", wireGuardPort: 51820, apiPort: 7443)
    }
    let master = NodeRecord(name: "hub", domain: "crisis", address: IPv4Address("100.64.0.1")!, publicKey: key(0x01), isMaster: true)
    // Names out of address order, and .9/.10 so that a textual sort would differ from a numeric one.
    let zeta = NodeRecord(name: "zeta", domain: "companya", address: IPv4Address("100.64.0.2")!, publicKey: key(0x02), isMaster: false)
    let alpha = NodeRecord(name: "alpha", domain: "companyb", address: IPv4Address("100.64.0.10")!, publicKey: key(0x03), isMaster: false)
    let mid = NodeRecord(name: "mid", domain: "companyb", address: IPv4Address("100.64.0.9")!, publicKey: key(0x04), isMaster: false)
    var nodes: [NodeRecord] { [alpha, master, zeta, mid] }

    @Test func workerHasOnlyTheHub() throws {
        let map = try #require(NetworkMap.compute(for: "zeta", nodes: nodes, facts: facts, version: 7))
        #expect(map.version == 7)
        #expect(map.federation == "crisis")
        #expect(map.cidr == cidr)
        #expect(map.node == zeta)
        #expect(!map.isHub)
        #expect(map.masterAddress == master.address)
        #expect(map.apiPort == 7443)
        #expect(map.interfaceAddress == "100.64.0.2/16")
        #expect(map.peers == [
            MapPeer(name: "hub", publicKey: key(0x01), endpoint: "203.0.113.10:51820", allowedIPs: [cidr], persistentKeepalive: 25),
        ])
    }

    @Test func everyWorkerGetsTheSameHubPeer() throws {
        for worker in [zeta, alpha, mid] {
            let map = try #require(NetworkMap.compute(for: worker.name, nodes: nodes, facts: facts, version: 1))
            #expect(map.peers.count == 1)
            #expect(map.peers.first?.endpoint == "203.0.113.10:51820")
            #expect(map.peers.first?.allowedIPs.map(\.description) == ["100.64.0.0/16"])
            #expect(map.peers.first?.persistentKeepalive == 25)
            #expect(map.interfaceAddress == "\(worker.address)/16")
        }
    }

    @Test func hubHasEveryWorkerSortedByAddress() throws {
        let map = try #require(NetworkMap.compute(for: "hub", nodes: nodes, facts: facts, version: 3))
        #expect(map.isHub)
        #expect(map.interfaceAddress == "100.64.0.1/16")
        #expect(map.peers.map(\.name) == ["zeta", "mid", "alpha"])
        #expect(map.peers == [
            MapPeer(name: "zeta", publicKey: key(0x02), endpoint: nil, allowedIPs: [try IPv4CIDR(parsing: "100.64.0.2/32")], persistentKeepalive: nil),
            MapPeer(name: "mid", publicKey: key(0x04), endpoint: nil, allowedIPs: [try IPv4CIDR(parsing: "100.64.0.9/32")], persistentKeepalive: nil),
            MapPeer(name: "alpha", publicKey: key(0x03), endpoint: nil, allowedIPs: [try IPv4CIDR(parsing: "100.64.0.10/32")], persistentKeepalive: nil),
        ])
    }

    @Test func unknownNodeOrNoMasterIsNil() {
        #expect(NetworkMap.compute(for: "nobody", nodes: nodes, facts: facts, version: 1) == nil)
        #expect(NetworkMap.compute(for: "zeta", nodes: [zeta, alpha], facts: facts, version: 1) == nil)
    }

    @Test func mapRoundTripsThroughJSON() throws {
        let map = try #require(NetworkMap.compute(for: "zeta", nodes: nodes, facts: facts, version: 7))
        let data = try API.encoder().encode(map)
        #expect(try API.decoder().decode(NetworkMap.self, from: data) == map)
    }

    @Test func deviceFromMapResolvesEndpoints() throws {
        let map = try #require(NetworkMap.compute(for: "zeta", nodes: nodes, facts: facts, version: 7))
        let device = WireGuardDevice(map: map, privateKey: key(0x77), listenPort: nil) { hostPort in
            hostPort == "203.0.113.10:51820" ? "203.0.113.10:51820" : nil
        }
        #expect(device == WireGuardDevice(privateKey: key(0x77), listenPort: nil, peers: [
            WireGuardPeer(publicKey: key(0x01), endpoint: "203.0.113.10:51820", allowedIPs: [cidr], persistentKeepalive: 25),
        ]))
    }
}
