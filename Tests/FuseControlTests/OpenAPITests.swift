import Foundation
import FuseControl
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
}
