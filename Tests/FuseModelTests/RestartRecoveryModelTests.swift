import Foundation
import FuseModel
import Testing

/// The pure parts of restart recovery: a restarted hub is given its workers' last endpoints
/// (and speaks first), a device that learnt an endpoint keeps it, and "tunnel up" means a
/// session WireGuard would still use.
@Suite struct RestartRecoveryModelTests {
    let cidr = try! IPv4CIDR(parsing: "100.64.0.0/16")
    var facts: FederationFacts { FederationFacts(name: "crisis", cidr: cidr, endpointHost: "203.0.113.10", wireGuardPort: 51820, apiPort: 7443) }
    let hub = NodeRecord(name: "hub", domain: "crisis", address: IPv4Address("100.64.0.1")!, publicKey: key(0x01), isMaster: true)
    let a1 = NodeRecord(name: "a1", domain: "companya", address: IPv4Address("100.64.0.2")!, publicKey: key(0x02), isMaster: false)
    let b1 = NodeRecord(name: "b1", domain: "companyb", address: IPv4Address("100.64.0.3")!, publicKey: key(0x03), isMaster: false)

    @Test func theHubGetsItsWorkersLastEndpointsWithAKeepalive() throws {
        let map = try #require(NetworkMap.compute(for: "hub", nodes: [hub, a1, b1], facts: facts, version: 4,
                                                  lastEndpoints: [key(0x02): "198.51.100.7:40001", key(0x09): "198.51.100.9:1"]))
        #expect(map.peers == [
            MapPeer(name: "a1", publicKey: key(0x02), endpoint: nil, allowedIPs: [try IPv4CIDR(parsing: "100.64.0.2/32")], persistentKeepalive: 25,
                    lastEndpoint: "198.51.100.7:40001"),
            MapPeer(name: "b1", publicKey: key(0x03), endpoint: nil, allowedIPs: [try IPv4CIDR(parsing: "100.64.0.3/32")], persistentKeepalive: nil),
        ])
        // A worker's map never carries them.
        let worker = try #require(NetworkMap.compute(for: "a1", nodes: [hub, a1, b1], facts: facts, version: 4, lastEndpoints: [key(0x01): "192.0.2.1:1"]))
        #expect(worker.peers.map(\.lastEndpoint) == [nil])
        // A map without them is what older masters sent: it still decodes.
        let data = try API.encoder().encode(worker)
        #expect(!String(decoding: data, as: UTF8.self).contains("lastEndpoint"))
        #expect(try API.decoder().decode(NetworkMap.self, from: data) == worker)
        #expect(try API.decoder().decode(NetworkMap.self, from: try API.encoder().encode(map)) == map)
    }

    @Test func aFreshHubSetsTheLastEndpointAndKeepaliveSoThatItSpeaksFirst() throws {
        let map = try #require(NetworkMap.compute(for: "hub", nodes: [hub, a1], facts: facts, version: 1, lastEndpoints: [key(0x02): "198.51.100.7:40001"]))
        let desired = WireGuardDevice(map: map, privateKey: key(0x11), listenPort: 51820) { $0 }
        let request = try #require(WireGuardUAPI.renderSet(desired: desired, current: WireGuardDevice(privateKey: key(0x11), listenPort: 51820, peers: [])))
        #expect(request == """
            set=1
            public_key=\(String(repeating: "02", count: 32))
            endpoint=198.51.100.7:40001
            persistent_keepalive_interval=25
            replace_allowed_ips=true
            allowed_ip=100.64.0.2/32


            """)
        #expect(WireGuardCLI.renderSet(desired: desired, current: nil)?.contains("198.51.100.7:40001") == true)
    }

    @Test func anEndpointTheDeviceLearntIsKept() throws {
        let desired = WireGuardPeer(publicKey: key(0x02), endpoint: nil, allowedIPs: [], persistentKeepalive: 25, fallbackEndpoint: "198.51.100.7:40001")
        let roamed = WireGuardPeer(publicKey: key(0x02), endpoint: "198.51.100.8:5000", allowedIPs: [], persistentKeepalive: 25)
        #expect(desired.endpointToSet(over: roamed) == nil)
        #expect(WireGuardUAPI.renderSet(desired: WireGuardDevice(privateKey: nil, listenPort: nil, peers: [desired]),
                                        current: WireGuardDevice(privateKey: nil, listenPort: nil, peers: [roamed])) == nil)
        #expect(WireGuardCLI.renderSet(desired: WireGuardDevice(privateKey: nil, listenPort: nil, peers: [desired]),
                                       current: WireGuardDevice(privateKey: nil, listenPort: nil, peers: [roamed])) == nil)
        // A peer that the map dials (the hub, for a worker) is always set to the map's endpoint.
        let dialled = WireGuardPeer(publicKey: key(0x01), endpoint: "203.0.113.10:51820", allowedIPs: [], fallbackEndpoint: "192.0.2.1:1")
        #expect(dialled.endpointToSet(over: nil) == "203.0.113.10:51820")
        #expect(dialled.endpointToSet(over: roamed) == "203.0.113.10:51820")
        #expect(dialled.endpointToSet(over: dialled) == nil)
    }

    @Test func aTunnelIsUpOnlyWhileItsSessionIsUsable() {
        let now = 1_000_000.0
        #expect(!WireGuardTimers.isFresh(lastHandshake: 0, now: now))
        #expect(WireGuardTimers.isFresh(lastHandshake: 1_000_000 - 179, now: now))
        #expect(!WireGuardTimers.isFresh(lastHandshake: 1_000_000 - 180, now: now))
        #expect(!WireGuardTimers.isFresh(lastHandshake: 1_000_000 - 195, now: now))
    }
}
