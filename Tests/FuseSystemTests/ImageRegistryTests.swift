import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import FuseSystem
import Testing

/// The federation's registry as two real `docker-registry` processes on loopback ports: the
/// pull side refuses every write, the push side takes them, both serve what was pushed.
@Suite(.enabled(if: Executables.find("docker-registry") != nil || ProcessInfo.processInfo.environment["CI"] == "true", "needs docker-registry"))
struct ImageRegistryTests {
    static func request(_ method: String, _ url: String) async throws -> Int {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.timeoutInterval = 5
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }

    @Test func thePullSideIsReadOnlyAndThePushSideTakesUploads() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fuse-registry-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Ports that nothing holds now (a random one was once a client's ephemeral port).
        let pullPort = try PortProbe.freeTCPPort()
        var pushPort = try PortProbe.freeTCPPort()
        while pushPort == pullPort { pushPort = try PortProbe.freeTCPPort() }
        let ports = (pullPort, pushPort)
        let registry = ImageRegistry(directory: directory, pullAddress: "127.0.0.1:\(ports.0)", pushAddress: "127.0.0.1:\(ports.1)")
        let started = try registry.ensureRunning()
        defer { registry.stop() }
        #expect(started.count == 2)
        #expect(try registry.ensureRunning().isEmpty, "running sides are not started twice")

        let pull = "http://127.0.0.1:\(ports.0)/v2", push = "http://127.0.0.1:\(ports.1)/v2"
        #expect(try await Self.request("GET", pull + "/") == 200)
        let refused = try await Self.request("POST", pull + "/evil/blobs/uploads/")
        #expect(!(200..<300).contains(refused), "an upload to the pull side: HTTP \(refused)")
        #expect(try await Self.request("POST", push + "/tools/blobs/uploads/") == 202, "the push side takes uploads")

        registry.stop()
        #expect(registry.pids.isEmpty)
        #expect(started.allSatisfy { !Daemon.isAlive($0) })
    }
}
