import Foundation
import FuseModel
import HTTPTypes
import Hummingbird
import NIOCore

/// The request context of the control plane's API: who is calling, and a small body limit
/// (no request of this API needs more than a few kilobytes).
public struct FuseRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var caller: Caller = .anonymous
    /// The TCP peer (a stream's pusher is known by its VPN address).
    public let remoteAddress: SocketAddress?

    public enum Caller: Sendable, Equatable {
        case anonymous
        case node(String)
        case admin
    }

    public static let bodyLimit = 16 * 1024

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    public var maxUploadSize: Int { Self.bodyLimit }
    public var requestDecoder: JSONDecoder { API.decoder() }
    public var responseEncoder: JSONEncoder { API.encoder() }

    func requireNode() throws -> String {
        guard case .node(let name) = caller else { throw HTTPError(.unauthorized, message: "a node credential is required") }
        return name
    }

    func requireAdmin() throws {
        guard caller == .admin else { throw HTTPError(.unauthorized, message: "the operator's credential is required") }
    }

    func requireAnyCredential() throws {
        guard caller != .anonymous else { throw HTTPError(.unauthorized, message: "a credential is required") }
    }
}

/// Refuses bodies over the limit from their Content-Length, before any handler reads them, and
/// turns `APIError`s into HTTP errors.
struct BodyLimitAndErrorsMiddleware: RouterMiddleware {
    typealias Context = FuseRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > Context.bodyLimit {
            throw HTTPError(.contentTooLarge, message: "request body over \(Context.bodyLimit) bytes")
        }
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw HTTPError(.init(code: error.status), message: error.message)
        }
    }
}

/// Reads `Authorization: Bearer ...`; a credential that is present but wrong is refused here.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = FuseRequestContext
    let controlPlane: ControlPlane

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else { return try await next(request, context) }
        guard header.hasPrefix("Bearer ") else { throw HTTPError(.unauthorized, message: "expected a Bearer credential") }
        let credential = String(header.dropFirst(7))
        var context = context
        if controlPlane.authenticateAdmin(credential) {
            context.caller = .admin
        } else if let node = try controlPlane.authenticateNode(credential) {
            context.caller = .node(node)
        } else {
            throw HTTPError(.unauthorized, message: "unknown or revoked credential")
        }
        return try await next(request, context)
    }
}

/// JSON responses with the API's encoder.
struct JSONResponse<Value: Encodable & Sendable>: ResponseGenerator {
    let value: Value
    var status: HTTPResponse.Status = .ok

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try API.encoder().encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// The API's routes, recorded as they are added so that a test can hold them against
/// `openapi.json`.
public struct APIRoute: Hashable, Sendable, CustomStringConvertible {
    public let method: String
    public let path: String
    public var description: String { "\(method) \(path)" }
}

public enum ControlPlaneAPI {
    /// Builds the router for a control plane; also returns the list of routes it serves.
    public static func router(_ controlPlane: ControlPlane) -> (Router<FuseRequestContext>, [APIRoute]) {
        let router = Router(context: FuseRequestContext.self)
        router.add(middleware: RequestMetricsMiddleware(dashboard: controlPlane.dashboard))
        router.add(middleware: BodyLimitAndErrorsMiddleware())
        router.add(middleware: AuthenticationMiddleware(controlPlane: controlPlane))
        var routes: [APIRoute] = []
        func on<R: ResponseGenerator>(_ method: HTTPRequest.Method, _ path: String, _ handler: @escaping @Sendable (Request, FuseRequestContext) async throws -> R) {
            routes.append(APIRoute(method: method.rawValue, path: path))
            // OpenAPI writes parameters as {name}; Hummingbird as :name.
            let routerPath = path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")
            router.on(RouterPath(routerPath), method: method, use: handler)
        }

        on(.get, "/v1/health") { _, _ in
            JSONResponse(value: API.Health(status: "ok", federation: controlPlane.config.federation))
        }
        on(.get, "/v1/ca") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/x-pem-file"], body: .init(byteBuffer: ByteBuffer(string: controlPlane.caPEM)))
        }
        on(.post, "/v1/join") { request, context in
            let body = try await request.decode(as: API.JoinRequest.self, context: context)
            return JSONResponse(value: try await controlPlane.join(body), status: .created)
        }
        on(.get, "/v1/map") { request, context in
            let node = try context.requireNode()
            let since = request.uri.queryParameters.get("since", as: Int64.self) ?? 0
            let wait = min(max(request.uri.queryParameters.get("wait", as: Int.self) ?? 0, 0), 60)
            return JSONResponse(value: try await controlPlane.map(for: node, since: since, wait: .seconds(wait)))
        }
        on(.post, "/v1/heartbeat") { request, context in
            let node = try context.requireNode()
            let beat = try await request.decode(as: API.Heartbeat.self, context: context)
            await controlPlane.heartbeat(node, appliedVersion: beat.mapVersion)
            return HTTPResponse.Status.noContent
        }
        on(.post, "/v1/leave") { _, context in
            try await controlPlane.leave(try context.requireNode())
            return HTTPResponse.Status.noContent
        }
        on(.get, "/v1/swarm") { _, context in
            JSONResponse(value: try controlPlane.swarmJoin(node: try context.requireNode()))
        }
        on(.put, "/v1/swarm/node") { request, context in
            let node = try context.requireNode()
            let body = try await request.decode(as: API.SwarmNode.self, context: context)
            try controlPlane.swarmJoined(node: node, id: body.id)
            return HTTPResponse.Status.noContent
        }
        on(.post, "/v1/swarm/drain") { _, context in
            JSONResponse(value: API.DrainResult(remaining: try await controlPlane.drain(node: try context.requireNode())))
        }
        on(.get, "/v1/status") { _, context in
            try context.requireAnyCredential()
            return JSONResponse(value: try await controlPlane.status())
        }
        on(.get, "/v1/nodes") { _, context in
            try context.requireAnyCredential()
            return JSONResponse(value: try await controlPlane.nodes())
        }
        on(.delete, "/v1/nodes/{name}") { _, context in
            try context.requireAdmin()
            try await controlPlane.removeNode(try context.parameters.require("name"))
            return HTTPResponse.Status.noContent
        }
        on(.post, "/v1/tokens") { request, context in
            try context.requireAdmin()
            let body = try await request.decode(as: API.TokenCreateRequest.self, context: context)
            return JSONResponse(value: try controlPlane.createToken(body), status: .created)
        }
        on(.get, "/v1/tokens") { _, context in
            try context.requireAdmin()
            return JSONResponse(value: try controlPlane.tokens())
        }
        on(.delete, "/v1/tokens/{id}") { _, context in
            try context.requireAdmin()
            try controlPlane.revokeToken(try context.parameters.require("id"))
            return HTTPResponse.Status.noContent
        }
        on(.post, "/v1/exposures") { request, context in
            try context.requireAnyCredential()
            let body = try await request.decode(as: API.ExposeRequest.self, context: context)
            return JSONResponse(value: try await controlPlane.expose(body, caller: context.caller), status: .created)
        }
        on(.delete, "/v1/exposures/{name}") { _, context in
            try context.requireAnyCredential()
            try await controlPlane.unexpose(try context.parameters.require("name"), caller: context.caller)
            return HTTPResponse.Status.noContent
        }
        on(.get, "/v1/services") { _, context in
            try context.requireAnyCredential()
            return JSONResponse(value: try controlPlane.services())
        }
        on(.get, "/v1/policy") { _, context in
            try context.requireAdmin()
            return JSONResponse(value: try controlPlane.policyInfo())
        }
        on(.put, "/v1/policy") { request, context in
            try context.requireAdmin()
            let body = try await request.decode(as: API.PolicyBody.self, context: context)
            return JSONResponse(value: try await controlPlane.setPolicy(body.text))
        }
        on(.post, "/v1/policy/test") { request, context in
            try context.requireAdmin()
            let body = try await request.decode(as: API.PolicyTestRequest.self, context: context)
            return JSONResponse(value: try controlPlane.testPolicy(body))
        }
        DashboardRoutes.add(to: on, controlPlane)
        return (router, routes)
    }
}
