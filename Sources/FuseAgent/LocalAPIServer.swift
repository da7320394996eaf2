import Foundation
import FuseModel
import FuseSystem
import Hummingbird
import Logging
import NIOCore

/// What the node daemon answers on its local API. Long operations report their steps through
/// `Steps` and return a result; errors are `LocalAPIError`s with a status.
public protocol LocalAPIHandler: Sendable {
    func status() async -> AgentStatus?
    func join(_ request: LocalAPI.JoinRequest, steps: Steps) async throws -> LocalAPI.JoinResult
    func leave(_ request: LocalAPI.LeaveRequest, steps: Steps) async throws -> LocalAPI.LeaveResult
    func expose(_ request: API.ExposeRequest) async throws -> Exposure
    func unexpose(_ name: String) async throws
    /// The answer to a long operation has been written to its client.
    func delivered() async
}

/// A refusal of the local API: an HTTP status and one line.
public struct LocalAPIError: Error, CustomStringConvertible, HTTPResponseError {
    public let code: Int
    public let description: String
    public init(_ code: Int, _ description: String) {
        self.code = code
        self.description = description
    }

    public var status: HTTPResponse.Status { .init(code: code) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try API.encoder().encode(API.ErrorBody(error: .init(message: description)))
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Every error reaches the client as a status and one line (the master's own message when it
/// refused something).
struct ErrorsMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as LocalAPIError {
            throw error
        } catch let error as HTTPError {
            throw LocalAPIError(Int(error.status.code), error.body ?? "\(error.status)")
        } catch let error as ClientError {
            throw LocalAPIError(error.status ?? 502, error.description)
        } catch {
            throw LocalAPIError(500, oneLine(error))
        }
    }
}

/// The node daemon's local API on a unix socket (mode 0600: root only). See docs/local-api.md.
public enum LocalAPIServer {
    public static func router(_ handler: any LocalAPIHandler) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ErrorsMiddleware())
        let prefix = LocalAPI.prefix
        router.get("\(prefix)/status") { _, _ -> Response in
            guard let status = await handler.status() else { throw LocalAPIError(404, "this host is not in a federation") }
            return try json(status)
        }
        router.post("\(prefix)/join") { request, context -> Response in
            let body = try await request.decode(as: LocalAPI.JoinRequest.self, context: context)
            return stream(handler) { steps in try await handler.join(body, steps: steps) }
        }
        router.post("\(prefix)/leave") { request, context -> Response in
            let body = try await request.decode(as: LocalAPI.LeaveRequest.self, context: context)
            return stream(handler) { steps in try await handler.leave(body, steps: steps) }
        }
        router.post("\(prefix)/exposures") { request, context -> Response in
            let body = try await request.decode(as: API.ExposeRequest.self, context: context)
            return try json(try await handler.expose(body), status: .created)
        }
        router.delete("\(prefix)/exposures/:name") { _, context -> HTTPResponse.Status in
            try await handler.unexpose(try context.parameters.require("name"))
            return .noContent
        }
        return router
    }

    /// Serves until cancelled; the socket is replaced if a stale one is there (the caller holds
    /// the state dir's lock, so no other daemon can be using it).
    public static func run(socket: String, handler: any LocalAPIHandler, logger: Logger) async throws {
        unlink(socket)
        let app = Application(
            router: router(handler),
            configuration: .init(address: .unixDomainSocket(path: socket), serverName: nil),
            onServerRunning: { _ in
                chmod(socket, 0o600)
                logger.info("local API listening", metadata: ["socket": "\(socket)"])
            },
            logger: logger)
        try await GracefulServices.run([app], logger: logger)
        unlink(socket)
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try API.encoder().encode(value))))
    }

    /// A long operation's answer: one JSON event per line while it runs, then its result or error.
    /// The operation runs in a task of its own, so a client that goes away does not stop it halfway.
    static func stream<Result: Encodable & Sendable>(_ handler: any LocalAPIHandler, _ operation: @escaping @Sendable (Steps) async throws -> Result) -> Response {
        let (events, continuation) = AsyncStream<LocalAPI.Event>.makeStream()
        let steps = Steps { continuation.yield($0) }
        Task {
            do {
                let result = try await operation(steps)
                let text = String(decoding: try API.encoder().encode(result), as: UTF8.self)
                continuation.yield(LocalAPI.Event(kind: .result, message: "done", result: text))
            } catch {
                let code = (error as? LocalAPIError)?.code ?? (error as? ClientError)?.status ?? 500
                continuation.yield(LocalAPI.Event(kind: .error, message: oneLine(error), code: code))
            }
            continuation.finish()
        }
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: ResponseBody { writer in
            for await event in events {
                var line = try API.encoder().encode(event)
                line.append(UInt8(ascii: "\n"))
                try await writer.write(ByteBuffer(bytes: line))
            }
            try await writer.finish(nil)
            await handler.delivered()
        })
    }
}
