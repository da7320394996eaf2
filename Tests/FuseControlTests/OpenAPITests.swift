import Foundation
import FuseControl
import FuseModel
import Testing

@Suite struct OpenAPITests {
    static var packageRoot: URL {
        // Tests/FuseControlTests/OpenAPITests.swift -> package root
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]

    @Test func documentMatchesTheRouter() async throws {
        let url = Self.packageRoot.appendingPathComponent("openapi.json")
        let data = try Data(contentsOf: url)
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect((document["openapi"] as? String)?.hasPrefix("3.1") == true)
        let paths = try #require(document["paths"] as? [String: Any])
        var documented: Set<String> = []  // "METHOD /path"
        for (path, item) in paths {
            let operations = try #require(item as? [String: Any], "path item \(path)")
            for key in operations.keys where Self.methods.contains(key.lowercased()) {
                documented.insert("\(key.uppercased()) \(path)")
            }
        }
        let served: [String] = try await Harness.with { harness in
            ControlPlaneAPI.router(harness.controlPlane).1.map { "\($0.method.uppercased()) \($0.path)" }
        }
        #expect(served.count == Set(served).count, "duplicate routes: \(served)")
        let servedSet = Set(served)
        let undocumented = servedSet.subtracting(documented).sorted()
        let unserved = documented.subtracting(servedSet).sorted()
        #expect(undocumented.isEmpty, "served but not in openapi.json: \(undocumented)")
        #expect(unserved.isEmpty, "in openapi.json but not served: \(unserved)")
        #expect(!served.isEmpty)
    }

    /// The map updates' schemas name every field that the master sends (a delta with every
    /// field set), so that a client written from openapi.json misses none.
    @Test func mapUpdateSchemasNameEveryField() throws {
        let data = try Data(contentsOf: Self.packageRoot.appendingPathComponent("openapi.json"))
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
        func properties(_ name: String) throws -> Set<String> {
            Set(try #require((schemas[name] as? [String: Any])?["properties"] as? [String: Any], "schema \(name)").keys)
        }
        let master = NodeRecord(name: "m", domain: "crisis", address: IPv4Address("10.1.0.1")!, publicKey: WireGuardKey.generatePrivate().publicKey, isMaster: true)
        let peer = MapPeer(name: "p", publicKey: WireGuardKey.generatePrivate().publicKey, endpoint: nil, allowedIPs: [], persistentKeepalive: nil)
        let old = NetworkMap(version: 1, federation: "a", cidr: try IPv4CIDR(parsing: "10.1.0.0/24"), node: master, isHub: true, peers: [peer],
                             masterAddress: master.address, apiPort: 1)
        let new = NetworkMap(version: 2, federation: "b", cidr: try IPv4CIDR(parsing: "10.2.0.0/24"),
                             node: NodeRecord(name: "n", domain: "x", address: IPv4Address("10.2.0.2")!, publicKey: master.publicKey, isMaster: false),
                             isHub: false, peers: [MapPeer(name: "q", publicKey: peer.publicKey, endpoint: "h:1", allowedIPs: [], persistentKeepalive: 25)],
                             masterAddress: IPv4Address("10.2.0.1")!, apiPort: 2, firewall: NodeFirewall(inbound: [AllowedFlow(sources: [], proto: .icmp, port: nil)]))
        for (schema, value) in [("MapDelta", try API.encoder().encode(MapDelta(from: old, to: new))), ("MapUpdate", try API.encoder().encode(MapUpdate.delta(MapDelta(from: old, to: new)))),
                                ("MapUpdate", try API.encoder().encode(MapUpdate.full(new))), ("NetworkMap", try API.encoder().encode(new))] {
            let sent = Set(try #require(try JSONSerialization.jsonObject(with: value) as? [String: Any]).keys)
            let documented = try properties(schema)
            #expect(sent.isSubset(of: documented), "\(schema): undocumented \(sent.subtracting(documented).sorted())")
        }
    }
}
