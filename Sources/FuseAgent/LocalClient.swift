import AsyncHTTPClient
import Foundation
import FuseModel
import NIOCore
import NIOHTTP1

/// The thin commands' client of the node daemon's local API (a unix socket).
public struct LocalClient: Sendable {
    public let socket: String

    public init(socket: String) { self.socket = socket }

    /// No daemon answers on the socket.
    public struct NotRunning: Error, CustomStringConvertible {
        public let socket: String
        public var description: String { "the node's agent is not running (no answer on \(socket))" }
    }

    public func status() async throws -> AgentStatus {
        try API.decoder().decode(AgentStatus.self, from: try await send(.GET, "/status", body: nil, timeout: .seconds(5)))
    }

    /// Whether a daemon answers (with or without being in a federation).
    public func isAnswering() async -> Bool {
        do {
            _ = try await status()
            return true
        } catch is NotRunning {
            return false
        } catch {
            return true
        }
    }

    public func call<Response: Decodable>(_ method: HTTPMethod, _ path: String, body: some Encodable) async throws -> Response {
        try API.decoder().decode(Response.self, from: try await send(method, path, body: try API.encoder().encode(body), timeout: .seconds(60)))
    }

    public func delete(_ path: String) async throws {
        _ = try await send(.DELETE, path, body: nil, timeout: .seconds(60))
    }

    /// Runs a long operation: `onEvent` sees each step as the daemon reports it; returns the
    /// result's JSON, or throws the daemon's error.
    public func stream<Result: Decodable>(_ path: String, body: some Encodable, timeout: Duration, as type: Result.Type,
                                          onEvent: (LocalAPI.Event) -> Void) async throws -> Result {
        let response = try await execute(.POST, path, body: try API.encoder().encode(body), timeout: timeout)
        guard response.status == .ok else { throw try await Self.failure(response) }
        // The whole answer is read, to its end, before the outcome counts.
        var pending = Data()
        var outcome: LocalAPI.Event?
        do {
            for try await chunk in response.body {
                pending.append(contentsOf: chunk.readableBytesView)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending[pending.startIndex..<newline]
                    pending = Data(pending[pending.index(after: newline)...])
                    let event = try API.decoder().decode(LocalAPI.Event.self, from: Data(line))
                    switch event.kind {
                    case .result, .error: outcome = event
                    default: onEvent(event)
                    }
                }
            }
        } catch {
            throw ClientError.unreachable("the node's agent stopped during the operation (\(error)); see its log")
        }
        switch outcome?.kind {
        case .result: return try API.decoder().decode(Result.self, from: Data((outcome?.result ?? "").utf8))
        case .error: throw ClientError.api(status: outcome?.code ?? 500, message: outcome?.message ?? "failed")
        default: throw ClientError.unreachable("the node's agent stopped during the operation; see its log")
        }
    }

    private func send(_ method: HTTPMethod, _ path: String, body: Data?, timeout: Duration) async throws -> Data {
        let response = try await execute(method, path, body: body, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 4 << 20)
        guard (200..<300).contains(Int(response.status.code)) else {
            let message = (try? API.decoder().decode(API.ErrorBody.self, from: Data(bytes.readableBytesView)))?.error.message ?? "HTTP \(response.status.code)"
            throw ClientError.api(status: Int(response.status.code), message: message)
        }
        return Data(bytes.readableBytesView)
    }

    private static func failure(_ response: HTTPClientResponse) async throws -> ClientError {
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let message = (try? API.decoder().decode(API.ErrorBody.self, from: Data(bytes.readableBytesView)))?.error.message ?? "HTTP \(response.status.code)"
        return ClientError.api(status: Int(response.status.code), message: message)
    }

    private func execute(_ method: HTTPMethod, _ path: String, body: Data?, timeout: Duration) async throws -> HTTPClientResponse {
        guard FileManager.default.fileExists(atPath: socket), let url = URL(httpURLWithSocketPath: socket, uri: LocalAPI.prefix + path) else {
            throw NotRunning(socket: socket)
        }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            return try await HTTPClient.shared.execute(request, timeout: .init(timeout))
        } catch {
            throw NotRunning(socket: socket)
        }
    }
}
