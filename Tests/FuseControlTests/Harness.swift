import Foundation
import FuseControl
import FuseModel
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// A clock the tests move by hand.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var date: Date
    init(_ date: Date = Date(timeIntervalSince1970: 1_900_000_000)) { self.date = date }
    var now: Date { lock.withLock { date } }
    func advance(_ seconds: TimeInterval) { lock.withLock { date = date.addingTimeInterval(seconds) } }
}

/// A control plane over a fresh SQLite store in its own temporary directory.
struct Harness: Sendable {
    static let adminSecret = "test-operator-secret"
    static let admin = "admin:\(adminSecret)"

    let directory: String
    let config: MasterConfig
    let clock: TestClock
    let controlPlane: ControlPlane
    let store: SQLiteFederationStore
    let masterKey: WireGuardKey

    /// Runs `body` with a new harness and removes its directory afterwards.
    /// With `directory`, the state lives there (the caller removes it); with `log`, the control
    /// plane logs into it.
    static func with<T>(cidr: String = "10.77.0.0/24", engineCIDR: String? = nil, swarm: (any SwarmControl)? = nil,
                        workloads: (any WorkloadEngine)? = nil, directory: String? = nil, log: RecordingLog? = nil, hubHeadStart: Duration = .milliseconds(250),
                        _ body: (Harness) async throws -> T) async throws -> T {
        let directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("fuse-control-tests-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let state = MasterState(stateDir: directory)
        let cidr = try IPv4CIDR(parsing: cidr)
        let masterKey = WireGuardKey.generatePrivate().publicKey
        let draft = MasterConfig(federation: "testfed", domain: "crisis", nodeName: "master", endpoint: "master.example.org",
                                 cidr: cidr, apiPort: 7443, wireGuardPort: 51999, interface: "fuse0", adminCredentialDigest: "",
                                 engineCIDR: try engineCIDR.map { try IPv4CIDR(parsing: $0) }, overlayCIDR: nil)
        // Creates the CA and the store with the master node registered at the range's first host.
        try state.initialize(config: draft, masterPublicKey: masterKey)
        var config = try state.loadConfig()
        config.adminCredentialDigest = Secret.digest(adminSecret)
        let store = try SQLiteFederationStore(path: state.databasePath)
        let clock = TestClock()
        var logger = log.map { log in Logger(label: "fuse-control-tests") { _ in log } } ?? Logger(label: "fuse-control-tests")
        logger.logLevel = log == nil ? .critical : .info
        let controlPlane = try ControlPlane(config: config, store: store, caPEM: try state.caPEM(), caPin: try state.caPin(),
                                            logger: logger, swarm: swarm, workloads: workloads, hubHeadStart: hubHeadStart, now: { clock.now })
        let harness = Harness(directory: directory, config: config, clock: clock, controlPlane: controlPlane, store: store, masterKey: masterKey)
        return try await body(harness)
    }

    /// Runs `body` with a harness and an in-process client of its HTTP API.
    static func withAPI(cidr: String = "10.77.0.0/24", engineCIDR: String? = nil, swarm: (any SwarmControl)? = nil,
                        workloads: (any WorkloadEngine)? = nil, mode: TestingSetup = .router,
                        _ body: @escaping @Sendable (Harness, any TestClientProtocol) async throws -> Void) async throws {
        try await with(cidr: cidr, engineCIDR: engineCIDR, swarm: swarm, workloads: workloads) { harness in
            let (router, _) = ControlPlaneAPI.router(harness.controlPlane)
            var logger = Logger(label: "fuse-control-tests-http")
            logger.logLevel = .critical
            let app = Application(router: router, logger: logger)
            try await app.test(mode) { client in try await body(harness, client) }
        }
    }

    /// A token created directly on the control plane; returns the `ID.SECRET` a node presents.
    func token(domain: String = "companya", ttl: Int = 900, uses: Int = 1) throws -> (id: String, token: String) {
        let created = try controlPlane.createToken(API.TokenCreateRequest(domain: domain, ttlSeconds: ttl, uses: uses))
        let join = try JoinString(parsing: created.join)
        return (join.tokenID, "\(join.tokenID).\(join.secret)")
    }
}

// MARK: HTTP helpers

func jsonBody(_ value: some Encodable) throws -> ByteBuffer {
    ByteBuffer(bytes: try API.encoder().encode(value))
}

extension TestClientProtocol {
    func send(_ method: HTTPRequest.Method, _ uri: String, bearer: String? = nil, body: ByteBuffer? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let bearer { headers[.authorization] = "Bearer \(bearer)" }
        if body != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: body)
    }

    func send(_ method: HTTPRequest.Method, _ uri: String, bearer: String? = nil, json: some Encodable) async throws -> TestResponse {
        try await send(method, uri, bearer: bearer, body: try jsonBody(json))
    }

    /// Joins through the API; returns the response.
    func join(token: String, name: String, key: WireGuardKey = WireGuardKey.generatePrivate().publicKey, workloads: Bool? = nil) async throws -> TestResponse {
        try await send(.post, "/v1/join", json: API.JoinRequest(token: token, name: name, publicKey: key, workloads: workloads))
    }

    /// Creates a token through the API as the operator; returns `(id, "ID.SECRET")`.
    func createToken(domain: String = "companya", ttl: Int = 900, uses: Int = 1) async throws -> (id: String, token: String) {
        let response = try await send(.post, "/v1/tokens", bearer: Harness.admin, json: API.TokenCreateRequest(domain: domain, ttlSeconds: ttl, uses: uses))
        try #require(response.status == .created, "token creation failed: \(response.status) \(response.text)")
        let created = try response.decode(API.TokenCreateResponse.self)
        let join = try JoinString(parsing: created.join)
        return (join.tokenID, "\(join.tokenID).\(join.secret)")
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try API.decoder().decode(T.self, from: Data(body.readableBytesView))
    }

    /// The message of an error body, after checking that the body is exactly `{"error":{"message":...}}`.
    func errorMessage(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
              let error = object["error"] as? [String: Any], Set(object.keys) == ["error"], Set(error.keys) == ["message"],
              let message = error["message"] as? String
        else {
            Issue.record("not an error body: \(text)", sourceLocation: sourceLocation)
            return nil
        }
        return message
    }
}

/// Expects an error response with `status` and exactly `message`.
func expectError(_ response: TestResponse, _ status: HTTPResponse.Status, _ message: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(response.status == status, "body: \(response.text)", sourceLocation: sourceLocation)
    let actual = response.errorMessage(sourceLocation: sourceLocation)
    if let message { #expect(actual == message, sourceLocation: sourceLocation) }
}

extension Harness {
    /// Waits (with a deadline) until a map long-poll is parked in the control plane.
    func waitForParkedPoll(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while await controlPlane.waitingLongPolls() == 0 {
            guard ContinuousClock.now < deadline else {
                Issue.record("no long-poll was parked within 5 s", sourceLocation: sourceLocation)
                return
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// A log handler that keeps what was logged, for tests that check a log line.
final class RecordingLog: LogHandler, @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        let details = (metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        lock.withLock { lines.append("\(level) \(message) \(details)") }
    }

    var recorded: [String] { lock.withLock { lines } }
}
