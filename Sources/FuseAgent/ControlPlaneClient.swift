import AsyncHTTPClient
import Foundation
import FuseModel
import NIOCore
import NIOPosix
import NIOSSL

/// Why a call to the control plane failed.
public enum ClientError: Error, CustomStringConvertible, Sendable {
    /// The master answered with an error.
    case api(status: Int, message: String)
    /// The master could not be reached (no answer, timed out, TLS failed).
    case unreachable(String)
    /// The master's host refused the connection: nothing listens there (retrying will not help).
    case refused(String)
    /// The master's CA does not match the pin of the join string.
    case pinMismatch(expected: String, got: String)

    public var description: String {
        switch self {
        case .api(_, let message): message
        case .unreachable(let message), .refused(let message): message
        case .pinMismatch(let expected, let got):
            "the master's CA (pin \(got)) does not match the join string's pin \(expected); refusing to talk to it"
        }
    }

    public var isUnauthorized: Bool {
        if case .api(401, _) = self { return true }
        return false
    }

    /// The master's HTTP status, when it answered.
    public var status: Int? {
        if case .api(let status, _) = self { return status }
        return nil
    }
}

/// HTTPS client of the control plane. Trusts only the federation's CA; the certificate's host
/// name is not checked because the CA is private to the federation and pinned.
public final class ControlPlaneClient: Sendable {
    let baseURL: String
    let client: HTTPClient
    let credential: String?

    /// A client that trusts `caPEM` only; nil = trusts nothing but fetches the CA (`fetchCA`).
    /// `readTimeout`: how long an answer may take (a deployment answers when its tasks run).
    /// `maxConnections`: how many connections to the master it keeps at most (one per request
    /// in flight; a long-poll holds one).
    public init(host: String, port: UInt16, caPEM: String?, credential: String? = nil, connectTimeout: Duration = .seconds(5),
                readTimeout: Duration = .seconds(90), maxConnections: Int = 8) throws {
        baseURL = "https://\(host):\(port)"
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caPEM {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
            tls.certificateVerification = .noHostnameVerification
        } else {
            tls.certificateVerification = .none
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .init(connectTimeout), read: .init(readTimeout))
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: maxConnections)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.credential = credential
    }

    private init(baseURL: String, client: HTTPClient, credential: String?) {
        self.baseURL = baseURL
        self.client = client
        self.credential = credential
    }

    /// A client with another credential over this one's connections (many simulated nodes in
    /// one process); shut down only the client it came from.
    public func with(credential: String?) -> ControlPlaneClient {
        ControlPlaneClient(baseURL: baseURL, client: client, credential: credential)
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    /// Fetches the CA and checks it against the pin before anything else is sent.
    public func fetchCA(pin: String) async throws -> String {
        let pem = try await text("GET", "/v1/ca", timeout: .seconds(10))
        let got = CAPin.of(pem: pem) ?? "none"
        guard Secret.constantTimeEquals(got, pin) else { throw ClientError.pinMismatch(expected: pin, got: got) }
        return pem
    }

    public func join(_ request: API.JoinRequest) async throws -> API.JoinResponse {
        try await call("POST", "/v1/join", body: request, timeout: .seconds(30))
    }

    /// `applied`: the version this node's host has applied (noted as a heartbeat would).
    public func map(since: Int64, applied: Int64? = nil, wait: Int) async throws -> NetworkMap {
        try await call("GET", "/v1/map?since=\(since)\(applied.map { "&applied=\($0)" } ?? "")&wait=\(wait)", timeout: .seconds(Int64(wait) + 10))
    }

    /// The long-poll for changes: the changes since `since`, or (with `full`, or when the
    /// master does not have the node's base) the whole map.
    public func mapUpdate(since: Int64, applied: Int64? = nil, wait: Int, full: Bool) async throws -> MapUpdate {
        try await call("GET", "/v1/map/updates?since=\(since)\(applied.map { "&applied=\($0)" } ?? "")&wait=\(wait)\(full ? "&full=1" : "")",
                       timeout: .seconds(Int64(wait) + 10))
    }

    public func heartbeat(_ heartbeat: API.Heartbeat) async throws {
        _ = try await raw("POST", "/v1/heartbeat", body: try API.encoder().encode(heartbeat), timeout: .seconds(10))
    }

    public func leave() async throws {
        _ = try await raw("POST", "/v1/leave", body: nil, timeout: .seconds(10))
    }

    public func swarmJoin() async throws -> SwarmJoin {
        try await call("GET", "/v1/swarm", timeout: .seconds(30))
    }

    public func swarmJoined(id: String) async throws {
        _ = try await raw("PUT", "/v1/swarm/node", body: try API.encoder().encode(API.SwarmNode(id: id)), timeout: .seconds(30))
    }

    /// Asks the manager to move this node's tasks elsewhere; returns how many still run.
    public func drain() async throws -> Int {
        let result: API.DrainResult = try await call("POST", "/v1/swarm/drain", timeout: .seconds(60))
        return result.remaining
    }

    public func health(timeout: Duration = .seconds(2)) async throws -> API.Health {
        try await call("GET", "/v1/health", timeout: timeout)
    }

    /// A JSON call; `body` nil sends none.
    public func call<Response: Decodable>(_ method: String, _ path: String, body: (some Encodable)? = Optional<String>.none, timeout: Duration = .seconds(30)) async throws -> Response {
        let data = try await raw(method, path, body: try body.map { try API.encoder().encode($0) }, timeout: timeout)
        return try Self.decode(data)
    }

    public func text(_ method: String, _ path: String, timeout: Duration = .seconds(30)) async throws -> String {
        String(decoding: try await raw(method, path, body: nil, timeout: timeout), as: UTF8.self)
    }

    public func raw(_ method: String, _ path: String, body: Data?, timeout: Duration) async throws -> Data {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .init(rawValue: method)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        return try await send(request, timeout: timeout)
    }

    /// POSTs a file as the body, streamed (an image archive can be gigabytes); decodes the JSON answer.
    public func upload<Response: Decodable>(_ path: String, file: String, timeout: Duration) async throws -> Response {
        guard let handle = FileHandle(forReadingAtPath: file),
              let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value else {
            throw ClientError.api(status: 0, message: "cannot read \(file)")
        }
        defer { try? handle.close() }
        let chunks = AsyncThrowingStream<ByteBuffer, any Error>(unfolding: {
            guard let data = try handle.read(upToCount: 1 << 20), !data.isEmpty else { return nil }
            return ByteBuffer(bytes: data)
        })
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-tar")
        request.body = .stream(chunks, length: .known(size))
        let data = try await send(request, timeout: timeout)
        return try Self.decode(data)
    }

    static func decode<Response: Decodable>(_ data: Data) throws -> Response {
        do { return try API.decoder().decode(Response.self, from: data) } catch {
            throw ClientError.api(status: 200, message: "unexpected answer from the master: \(error)")
        }
    }

    private func send(_ request: HTTPClientRequest, timeout: Duration) async throws -> Data {
        var request = request
        if let credential { request.headers.add(name: "Authorization", value: "Bearer \(credential)") }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await client.execute(request, timeout: .init(timeout))
            bytes = try await response.body.collect(upTo: 4 << 20)
        } catch {
            let message = "cannot reach the master at \(baseURL): \(Self.describe(error))"
            throw Self.isRefused(error) ? ClientError.refused(message) : ClientError.unreachable(message)
        }
        let data = Data(bytes.readableBytesView)
        guard (200..<300).contains(Int(response.status.code)) else {
            let message = (try? API.decoder().decode(API.ErrorBody.self, from: data))?.error.message ?? "HTTP \(response.status.code)"
            throw ClientError.api(status: Int(response.status.code), message: message)
        }
        return data
    }

    /// Why a request got no answer, from the error's type (never from its text).
    static func describe(_ error: any Error) -> String {
        if let client = error as? HTTPClientError, [.connectTimeout, .deadlineExceeded, .readTimeout].contains(client) { return "timed out" }
        if isRefused(error) { return "connection refused" }
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError { return "TLS failed (\(error))" }
        return "\(error)"
    }

    /// Whether the master's host refused the connection (directly, or every address tried).
    static func isRefused(_ error: any Error) -> Bool {
        if let io = error as? IOError { return io.errnoCode == ECONNREFUSED }
        if let connection = error as? NIOConnectionError {
            return !connection.connectionErrors.isEmpty && connection.connectionErrors.allSatisfy { isRefused($0.error) }
        }
        return false
    }
}
