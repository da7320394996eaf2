import Foundation
import FuseControl
import FuseModel
import Testing

/// The hub's workers' last endpoints survive a restart of the master and reach the hub's map.
@Suite struct HubEndpointsTests {
    @Test func endpointsAreKeptAcrossARestartAndGivenToTheHub() async throws {
        try await Harness.with { harness in
            let path = MasterState(stateDir: harness.directory).hubEndpointsPath
            harness.controlPlane.hubEndpoints.persist(at: path)
            let key = WireGuardKey.generatePrivate().publicKey
            let joined = try await harness.controlPlane.join(API.JoinRequest(token: try harness.token().token, name: "a1", publicKey: key))
            #expect(joined.map.peers.first?.lastEndpoint == nil)
            #expect(try await harness.controlPlane.map(for: "master")?.peers.first?.lastEndpoint == nil)

            // The hub's device reports a1 at its NAT's address: kept on disk, private.
            harness.controlPlane.hubEndpoints.record([(key: key, endpoint: "198.51.100.7:40001")])
            #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) == 0o600)

            // A restarted master (a new HubEndpoints reading the same file) gives it to the hub.
            let restarted = HubEndpoints()
            restarted.persist(at: path)
            #expect(restarted.current == [key: "198.51.100.7:40001"])
            let hubPeer = try #require(try await harness.controlPlane.map(for: "master")?.peers.first)
            #expect(hubPeer.lastEndpoint == "198.51.100.7:40001" && hubPeer.persistentKeepalive == 25)

            // A fresh hub device shows no peers, then peers without endpoints: the kept one stays.
            restarted.record([])
            restarted.record([(key: key, endpoint: nil)])
            #expect(restarted.current == [key: "198.51.100.7:40001"])
            // A worker that roamed: its new endpoint is kept.
            restarted.record([(key: key, endpoint: "198.51.100.8:5000")])
            let again = HubEndpoints()
            again.persist(at: path)
            #expect(again.current == [key: "198.51.100.8:5000"])
        }
    }

    @Test func aRelayedWorkersLoopbackEndpointIsNeverKept() {
        let endpoints = HubEndpoints()
        let key = WireGuardKey.generatePrivate().publicKey
        endpoints.record([(key: key, endpoint: "198.51.100.7:40001")])
        // Relayed now: the hub sees it at a socket of the master's relay, gone after a restart.
        endpoints.record([(key: key, endpoint: "127.0.0.1:45678")])
        #expect(endpoints.current.isEmpty)
        endpoints.record([(key: key, endpoint: "198.51.100.7:40002")])
        #expect(endpoints.current == [key: "198.51.100.7:40002"])
    }

    @Test func aMissingOrBrokenFileIsNoEndpoints() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fuse-hub-endpoints-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let endpoints = HubEndpoints()
        endpoints.persist(at: path)
        #expect(endpoints.current.isEmpty)
        try "not json".write(toFile: path, atomically: true, encoding: .utf8)
        endpoints.persist(at: path)
        #expect(endpoints.current.isEmpty)
    }
}
