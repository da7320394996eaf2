import Foundation
import FuseModel
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// The request context of the control plane's API: who is calling, and a small body limit
/// (no request of this API needs more than a few kilobytes, but for a compose file or an image
/// archive of the operator's: see `BodyLimitAndErrorsMiddleware.limit(for:)`).
public struct FuseRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var caller: Caller = .anonymous
    /// The TCP peer (a stream's pusher is known by its VPN address).
    public let remoteAddress: SocketAddress?
    /// The connection (a relay stream that was ended closes it: its reader would wait for the client).
    let connection: any Channel
    /// The client's address (nil in in-process tests).
    public var source: String? { remoteAddress?.ipAddress }

    public enum Caller: Sendable, Equatable {
        case anonymous
        case node(String)
        case admin
    }

    public static let bodyLimit = 16 * 1024
    /// A compose file (`POST /v1/stacks`).
    public static let stackBodyLimit = 256 * 1024
    /// This request's limit, set per route before any handler runs.
    public var bodyLimit = Self.bodyLimit

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        connection = source.channel
    }

    public var maxUploadSize: Int { bodyLimit }
    public var requestDecoder: JSONDecoder { API.decoder() }
    public var responseEncoder: JSONEncoder { API.encoder() }

    /// The calling node's name; only on routes whose access is `.node` (checked before).
    func node() throws -> String {
        guard case .node(let name) = caller else { throw HTTPError(.unauthorized, message: "a node credential is required") }
        return name
    }

    /// Who calls, in the domain's terms; only on routes whose access is `.member` (checked before).
    func requester() throws -> Requester {
        switch caller {
        case .admin: return .operator
        case .node(let name): return .node(name)
        case .anonymous: throw HTTPError(.unauthorized, message: "a credential is required")
        }
    }

    /// The one check of who may call a route, made before its handler runs.
    func authorize(_ access: Access) throws {
        switch (access, caller) {
        case (.anyone, _), (.node, .node), (.admin, .admin), (.member, .node), (.member, .admin): return
        case (.node, _): throw HTTPError(.unauthorized, message: "a node credential is required")
        case (.admin, _): throw HTTPError(.unauthorized, message: "the operator's credential is required")
        case (.member, _): throw HTTPError(.unauthorized, message: "a credential is required")
        }
    }
}

/// Who may call a route.
public enum Access: String, Sendable {
    /// No credential needed (health, the CA, joining); a credential that is present must still be valid.
    case anyone
    /// A node's own credential; the route acts for that node only.
    case node
    /// The operator's credential.
    case admin
    /// A node's or the operator's credential.
    case member
}

/// Refuses bodies over the limit from their Content-Length, before any handler reads them; a
/// full disk is logged (and answered 507 with its reason, as APIErrorMapping.swift says).
struct BodyLimitAndErrorsMiddleware: RouterMiddleware {
    typealias Context = FuseRequestContext
    let controlPlane: ControlPlane

    /// The body limit of a request's route: an image archive's, a compose file's, or the API's small one.
    func limit(for request: Request) -> Int {
        guard request.method == .post else { return Context.bodyLimit }
        switch request.uri.path {
        case "/v1/images": return controlPlane.workloads?.uploadLimit ?? Context.bodyLimit
        case "/v1/stacks": return Context.stackBodyLimit
        default: return Context.bodyLimit
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.bodyLimit = limit(for: request)
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > context.bodyLimit {
            throw HTTPError(.contentTooLarge, message: "request body over \(context.bodyLimit) bytes")
        }
        do {
            return try await next(request, context)
        } catch let full as StorageFull {
            controlPlane.logger.error("cannot store a change", metadata: ["route": "\(request.method) \(request.uri.path)", "error": "\(full)"])
            throw full
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
        } else if let node = try await controlPlane.authenticateNode(credential) {
            context.caller = .node(node)
        } else {
            throw HTTPError(.unauthorized, message: "unknown or revoked credential")
        }
        return try await next(request, context)
    }
}

extension Request {
    /// A query parameter that counts something (a version, seconds): absent is 0, anything but
    /// a number from 0 up is refused.
    func counter(_ name: String) throws -> Int64 {
        try optionalCounter(name) ?? 0
    }

    /// A query parameter that is a number from 0 up; nil when absent.
    func optionalCounter(_ name: String) throws -> Int64? {
        guard let text = uri.queryParameters[name[...]] else { return nil }
        guard let value = Int64(text), value >= 0 else {
            throw HTTPError(.badRequest, message: "bad \(name) \"\(NameRule.echo(String(text)))\": use a number from 0 up")
        }
        return value
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
    public let access: Access
    public var description: String { "\(method) \(path)" }
}

public enum ControlPlaneAPI {
    /// Builds the router for a control plane; also returns the list of routes it serves.
    public static func router(_ controlPlane: ControlPlane) -> (Router<FuseRequestContext>, [APIRoute]) {
        let router = Router(context: FuseRequestContext.self)
        router.add(middleware: RequestMetricsMiddleware(dashboard: controlPlane.dashboard))
        router.add(middleware: BodyLimitAndErrorsMiddleware(controlPlane: controlPlane))
        router.add(middleware: AuthenticationMiddleware(controlPlane: controlPlane))
        var routes: [APIRoute] = []
        func on<R: ResponseGenerator>(_ method: HTTPRequest.Method, _ path: String, _ access: Access,
                                      _ handler: @escaping @Sendable (Request, FuseRequestContext) async throws -> R) {
            routes.append(APIRoute(method: method.rawValue, path: path, access: access))
            // OpenAPI writes parameters as {name}; Hummingbird as :name.
            let routerPath = path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")
            router.on(RouterPath(routerPath), method: method) { request, context in
                try context.authorize(access)
                return try await handler(request, context)
            }
        }

        on(.get, "/v1/health", .anyone) { _, _ in
            JSONResponse(value: API.Health(status: "ok", federation: controlPlane.config.federation))
        }
        on(.get, "/v1/ca", .anyone) { _, _ in
            Response(status: .ok, headers: [.contentType: "application/x-pem-file"], body: .init(byteBuffer: ByteBuffer(string: controlPlane.caPEM)))
        }
        on(.post, "/v1/join", .anyone) { request, context in
            let body = try await request.decode(as: API.JoinRequest.self, context: context)
            return JSONResponse(value: try await controlPlane.join(body, source: context.source), status: .created)
        }
        // The server shuts down first and waits for requests in flight: a parked long-poll
        // ends at once when shutdown begins (else every `master stop` waited for it).
        @Sendable func longPoll<R: Sendable>(_ body: () async throws -> R) async throws -> R {
            try await withGracefulShutdownHandler(operation: body) {
                controlPlane.logger.debug("shutting down: ending the parked long-polls")
                Task { await controlPlane.closeLongPolls() }
            }
        }
        on(.get, "/v1/map", .node) { request, context in
            let node = try context.node()
            let (since, applied) = (try request.counter("since"), try request.optionalCounter("applied"))
            let wait = min(try request.counter("wait"), 60)
            return try await longPoll {
                JSONResponse(value: try await controlPlane.map(for: node, since: since, applied: applied, wait: .seconds(Int(wait))))
            }
        }
        // The same long-poll, answering with the changes since `since` (a MapUpdate); a node is
        // woken only when its own map changed.
        on(.get, "/v1/map/updates", .node) { request, context in
            let node = try context.node()
            let (since, applied) = (try request.counter("since"), try request.optionalCounter("applied"))
            let wait = min(try request.counter("wait"), 60)
            let full = try request.counter("full") > 0
            let body = try await longPoll {
                try await controlPlane.mapUpdate(for: node, since: since, applied: applied, wait: .seconds(Int(wait)), full: full)
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
        }
        on(.post, "/v1/heartbeat", .node) { request, context in
            let node = try context.node()
            let beat = try await request.decode(as: API.Heartbeat.self, context: context)
            guard beat.mapVersion >= 0 else { throw HTTPError(.badRequest, message: "bad mapVersion \(beat.mapVersion): a map version is 0 or more") }
            await controlPlane.heartbeat(node, appliedVersion: beat.mapVersion, path: beat.path)
            return HTTPResponse.Status.noContent
        }
        on(.post, "/v1/leave", .node) { _, context in
            try await controlPlane.leave(try context.node())
            return HTTPResponse.Status.noContent
        }
        on(.get, "/v1/swarm", .node) { _, context in
            JSONResponse(value: try controlPlane.swarmJoin(node: try context.node()))
        }
        on(.put, "/v1/swarm/node", .node) { request, context in
            let node = try context.node()
            let body = try await request.decode(as: API.SwarmNode.self, context: context)
            try controlPlane.swarmJoined(node: node, id: body.id)
            return HTTPResponse.Status.noContent
        }
        on(.post, "/v1/swarm/drain", .node) { _, context in
            JSONResponse(value: API.DrainResult(remaining: try await controlPlane.drain(node: try context.node())))
        }
        on(.get, "/v1/status", .member) { _, _ in
            JSONResponse(value: try await controlPlane.status())
        }
        on(.get, "/v1/nodes", .member) { _, _ in
            JSONResponse(value: try await controlPlane.nodes())
        }
        on(.delete, "/v1/nodes/{name}", .admin) { _, context in
            try await controlPlane.removeNode(try context.parameters.require("name"))
            return HTTPResponse.Status.noContent
        }
        on(.post, "/v1/tokens", .admin) { request, context in
            let body = try await request.decode(as: API.TokenCreateRequest.self, context: context)
            return JSONResponse(value: try controlPlane.createToken(body), status: .created)
        }
        on(.get, "/v1/tokens", .admin) { _, _ in
            JSONResponse(value: try controlPlane.tokens())
        }
        on(.delete, "/v1/tokens/{id}", .admin) { _, context in
            try controlPlane.revokeToken(try context.parameters.require("id"))
            return HTTPResponse.Status.noContent
        }
        on(.post, "/v1/exposures", .member) { request, context in
            let body = try await request.decode(as: API.ExposeRequest.self, context: context)
            return JSONResponse(value: try await controlPlane.expose(body, by: try context.requester()), status: .created)
        }
        on(.delete, "/v1/exposures/{name}", .member) { _, context in
            try await controlPlane.unexpose(try context.parameters.require("name"), by: try context.requester())
            return HTTPResponse.Status.noContent
        }
        on(.get, "/v1/services", .member) { _, _ in
            JSONResponse(value: try controlPlane.services())
        }
        on(.get, "/v1/policy", .admin) { _, _ in
            JSONResponse(value: try controlPlane.policyInfo())
        }
        on(.put, "/v1/policy", .admin) { request, context in
            let body = try await request.decode(as: API.PolicyBody.self, context: context)
            return JSONResponse(value: try await controlPlane.setPolicy(body.text))
        }
        on(.post, "/v1/policy/test", .admin) { request, context in
            let body = try await request.decode(as: API.PolicyTestRequest.self, context: context)
            return JSONResponse(value: try controlPlane.testPolicy(body))
        }
        on(.put, "/v1/settings/endpoint", .admin) { request, context in
            let body = try await request.decode(as: API.EndpointBody.self, context: context)
            return JSONResponse(value: try await controlPlane.setEndpoint(body.endpoint))
        }
        DashboardRoutes.add(to: on, controlPlane)
        RelayRoutes.add(to: on, controlPlane)
        WorkloadRoutes.add(to: on, controlPlane)
        return (router, routes)
    }
}
