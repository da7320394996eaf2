import Foundation
import FuseControl
import FuseModel
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// The master's engine and registry as the deployment routes use them, recorded.
final class FakeWorkloads: WorkloadEngine {
    struct State {
        /// `NAME:TAG` → digest.
        var registry: [String: String] = [:]
        var added: [(image: String, format: API.ImageArchiveFormat, source: String?, archive: Data)] = []
        var deployed: [String: String] = [:]
        var removed: [String] = []
        /// The services whose tasks run once a stack is deployed (none: nothing is scheduled).
        var services: [String] = []
        var tasks: [String: [StackTask]] = [:]
    }
    let state = Mutex(State())
    let uploadDirectory: String
    let uploadLimit: Int

    init(directory: String, uploadLimit: Int = 4096) {
        uploadDirectory = directory
        self.uploadLimit = uploadLimit
    }

    static let digest = "sha256:" + String(repeating: "ab", count: 32)

    func images() async throws -> [String] { state.withLock { $0.registry.keys.sorted() } }
    func digest(of image: ImageReference) async throws -> String? { state.withLock { $0.registry["\(image.repository):\(image.tag)"] } }
    func addImage(archive: String, format: API.ImageArchiveFormat, source: String?, as image: ImageReference) async throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: archive))
        state.withLock {
            $0.added.append(("\(image.repository):\(image.tag)", format, source, data))
            $0.registry["\(image.repository):\(image.tag)"] = Self.digest
        }
    }
    func stacks() async throws -> [String] { state.withLock { Array(Set($0.deployed.keys).subtracting($0.removed)).sorted() } }
    func deploy(stack: String, compose: String) async throws {
        state.withLock { state in
            state.deployed[stack] = compose
            state.removed.removeAll { $0 == stack }
            state.tasks[stack] = state.services.enumerated().map { index, service in
                StackTask(stack: stack, service: "\(stack)_\(service)", slot: 1, id: "task\(index)", node: "w1", domain: "companya",
                          state: "running", desiredState: "running", error: nil, image: "10.77.0.1:5000/labbox:1")
            }
        }
    }
    func remove(stack: String) async throws {
        state.withLock {
            $0.removed.append(stack)
            $0.tasks[stack] = nil
        }
    }
    func isGone(stack: String) async throws -> Bool { state.withLock { $0.tasks[stack] == nil } }
    func tasks(stack: String?, all: Bool) async throws -> [StackTask] {
        state.withLock { state in state.tasks.filter { stack == nil || $0.key == stack }.sorted { $0.key < $1.key }.flatMap(\.value) }
    }
}

/// Images, stacks and tasks through the control plane: the operator's only, checked before
/// anything changes, bounded in size.
struct WorkloadAPITests {
    static let engines = "10.213.0.0/16"

    /// A harness whose federation runs workloads on the fake, with a node w1 of companyA that runs them.
    func withWorkloads(_ body: @escaping @Sendable (Harness, any TestClientProtocol, FakeWorkloads) async throws -> Void) async throws {
        let uploads = FileManager.default.temporaryDirectory.appendingPathComponent("fuse-workload-tests-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: uploads) }
        let fake = FakeWorkloads(directory: uploads)
        try await Harness.withAPI(engineCIDR: Self.engines, swarm: FakeSwarm(), workloads: fake) { harness, client in
            let (_, token) = try await client.createToken(domain: "companyA")
            #expect(try await client.join(token: token, name: "w1", workloads: true).status == .created)
            try await body(harness, client, fake)
        }
    }

    func upload(_ client: some TestClientProtocol, _ query: String, _ bytes: [UInt8], bearer: String? = Harness.admin) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/x-tar"]
        if let bearer { headers[.authorization] = "Bearer \(bearer)" }
        return try await client.execute(uri: "/v1/images?" + query, method: .post, headers: headers, body: ByteBuffer(bytes: bytes))
    }

    func deploy(_ client: some TestClientProtocol, _ name: String, _ compose: String, timeout: Int = 5) async throws -> TestResponse {
        try await client.send(.post, "/v1/stacks", bearer: Harness.admin, json: API.DeployRequest(name: name, compose: compose, timeoutSeconds: timeout))
    }

    static let web = "services:\n  web:\n    image: labbox:1\n    x-fuse-domain: companyA\n"

    @Test func onlyTheOperatorMayDeploy() async throws {
        try await withWorkloads { _, client, fake in
            let (_, token) = try await client.createToken(domain: "companyB")
            let node = try await client.join(token: token, name: "b1").decode(API.JoinResponse.self)
            for credential in [nil, node.credential] {
                let expected = "the operator's credential is required"
                expectError(try await upload(client, "name=evil:1", [1, 2, 3], bearer: credential), .unauthorized, expected)
                expectError(try await client.send(.get, "/v1/images", bearer: credential), .unauthorized, expected)
                expectError(try await client.send(.post, "/v1/stacks", bearer: credential, json: API.DeployRequest(name: "s", compose: Self.web, timeoutSeconds: 5)),
                            .unauthorized, expected)
                expectError(try await client.send(.get, "/v1/tasks", bearer: credential), .unauthorized, expected)
                expectError(try await client.send(.delete, "/v1/stacks/s", bearer: credential), .unauthorized, expected)
            }
            let changes = fake.state.withLock { $0.added.count + $0.deployed.count + $0.removed.count }
            #expect(changes == 0, "nothing changed")
            #expect((try? FileManager.default.contentsOfDirectory(atPath: fake.uploadDirectory)) ?? [] == [], "nothing stored")
        }
    }

    @Test func anImageArchiveGoesIntoTheRegistry() async throws {
        try await withWorkloads { _, client, fake in
            let bytes = (0..<3000).map { UInt8($0 % 251) }
            let answer = try await upload(client, "name=tools:1&format=rootfs", bytes)
            #expect(answer.status == .created, "\(answer.text)")
            #expect(try answer.decode(API.ImageAdded.self) == API.ImageAdded(image: "tools:1", reference: "10.77.0.1:5000/tools:1"))
            let pushed = try await upload(client, "name=hostbox&format=docker-archive&source=docker.io/library/hostbox:2", [9, 9])
            #expect(pushed.status == .created, "\(pushed.text)")
            let added = fake.state.withLock { $0.added }
            #expect(added.map { $0.image } == ["tools:1", "hostbox:latest"])
            #expect(added.map { $0.format } == [.rootfs, .dockerArchive])
            #expect(added.map { $0.source } == [nil, "docker.io/library/hostbox:2"])
            #expect(added.first?.archive == Data(bytes), "the archive arrives whole")
            #expect(try FileManager.default.contentsOfDirectory(atPath: fake.uploadDirectory) == [], "the upload is removed afterwards")
            let images = try await client.send(.get, "/v1/images", bearer: Harness.admin)
            #expect(try images.decode([String].self) == ["hostbox:latest", "tools:1"])
        }
    }

    @Test func badImageUploadsChangeNothing() async throws {
        try await withWorkloads { _, client, fake in
            expectError(try await upload(client, "name=Bad%20Name!", [1]), .badRequest)
            expectError(try await upload(client, "format=rootfs", [1]), .badRequest)
            expectError(try await upload(client, "name=tools:1&format=zip", [1]), .badRequest, "bad format \"zip\": use rootfs or docker-archive")
            expectError(try await upload(client, "name=tools:1&format=docker-archive&source=-rf", [1]), .badRequest, "bad source image name \"-rf\"")
            expectError(try await upload(client, "name=tools:1", []), .badRequest, "the image archive is empty")
            expectError(try await upload(client, "name=tools:1", [UInt8](repeating: 7, count: 4097)), .contentTooLarge, "request body over 4096 bytes")
            #expect(fake.state.withLock { $0.added.isEmpty })
            #expect((try? FileManager.default.contentsOfDirectory(atPath: fake.uploadDirectory)) ?? [] == [], "nothing left of the uploads")
        }
    }

    @Test func aStackIsDeployedPinnedAndListed() async throws {
        try await withWorkloads { _, client, fake in
            fake.state.withLock {
                $0.registry["labbox:1"] = FakeWorkloads.digest
                $0.services = ["web"]
            }
            let answer = try await deploy(client, "lab", Self.web)
            #expect(answer.status == .created, "\(answer.text)")
            let deployed = try answer.decode(API.Deployed.self)
            #expect(deployed.stack == "lab" && deployed.services == ["web"] && deployed.tasks.map(\.service) == ["lab_web"])
            let compose = try #require(fake.state.withLock { $0.deployed["lab"] })
            #expect(compose.contains("10.77.0.1:5000/labbox:1@\(FakeWorkloads.digest)"), "pinned by digest: \(compose)")
            let tasks = try await client.send(.get, "/v1/tasks?stack=lab", bearer: Harness.admin)
            #expect(try tasks.decode([StackTask].self).map(\.service) == ["lab_web"])
            #expect(try await client.send(.get, "/v1/tasks", bearer: Harness.admin).decode([StackTask].self).count == 1)
            expectError(try await client.send(.get, "/v1/tasks?stack=nosuch", bearer: Harness.admin), .notFound, "no stack named nosuch")
            expectError(try await client.send(.get, "/v1/tasks?all=maybe", bearer: Harness.admin), .badRequest, "bad all \"maybe\": use true or false")

            expectError(try await client.send(.delete, "/v1/stacks/lab?timeout=0", bearer: Harness.admin), .badRequest, "bad timeout 0: use 1 to 3600 seconds")
            expectError(try await client.send(.delete, "/v1/stacks/nosuch", bearer: Harness.admin), .notFound, "no stack named nosuch")
            #expect(fake.state.withLock { $0.removed.isEmpty })
            #expect(try await client.send(.delete, "/v1/stacks/lab", bearer: Harness.admin).status == .noContent)
            #expect(fake.state.withLock { $0.removed } == ["lab"])
            #expect(try await client.send(.get, "/v1/tasks", bearer: Harness.admin).decode([StackTask].self).isEmpty)
        }
    }

    @Test func badComposeFilesAreOneLine400sThatDeployNothing() async throws {
        try await withWorkloads { _, client, fake in
            fake.state.withLock { $0.registry["labbox:1"] = FakeWorkloads.digest }
            let cases: [(String, String, Int, String)] = [
                ("s", "services:\n  x:\n    image: nosuch:1\n", 5,
                 "image nosuch:1 is not in the federation's registry; add it with `fuse image import` or `fuse image push`"),
                ("s", "services:\n  x:\n    image: labbox:1\n    x-fuse-domain: companyX\n", 5, "unknown domain"),
                ("s", "services:\n  x:\n    image: labbox:1\n   bad: [\n", 5, "line"),
                ("Bad Name", Self.web, 5, "invalid stack name"),
                ("s", Self.web, 0, "bad timeout 0: use 1 to 3600 seconds"),
            ]
            for (name, compose, timeout, message) in cases {
                let answer = try await deploy(client, name, compose, timeout: timeout)
                #expect(answer.status == .badRequest, "\(name) \(compose): \(answer.text)")
                let actual = answer.errorMessage() ?? ""
                #expect(actual.contains(message) && !actual.contains("\n"), "\(actual)")
            }
            let big = Self.web + "# " + String(repeating: "x", count: 300 * 1024) + "\n"
            expectError(try await deploy(client, "s", big), .contentTooLarge)
            #expect(fake.state.withLock { $0.deployed.isEmpty }, "nothing deployed")
        }
    }

    @Test func aNewStackThatDoesNotRunIsRemovedAgain() async throws {
        try await withWorkloads { _, client, fake in
            fake.state.withLock { $0.registry["labbox:1"] = FakeWorkloads.digest }
            let answer = try await deploy(client, "stuck", Self.web, timeout: 1)
            expectError(answer, .gatewayTimeout, "stack stuck did not run within 1 s: no task was scheduled; the stack was removed again")
            #expect(fake.state.withLock { $0.removed } == ["stuck"])
        }
    }

    @Test func aFederationWithoutWorkloadsSaysSo() async throws {
        try await Harness.withAPI { _, client in
            let message = "federation testfed runs no workloads (it was created with --no-workloads)"
            expectError(try await client.send(.get, "/v1/images", bearer: Harness.admin), .conflict, message)
            expectError(try await client.send(.get, "/v1/tasks", bearer: Harness.admin), .conflict, message)
            expectError(try await upload(client, "name=tools:1", [1]), .conflict, message)
        }
    }
}
