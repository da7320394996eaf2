import Foundation
import FuseModel
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// The dashboard's routes on the control plane's HTTPS port:
/// - `/dashboard/…`: the page and its script and style (no data), login and logout, and for a
///   logged-in browser the federation (`api/federation`, live as server-sent events at
///   `api/events`) and each stream's video (`api/streams/DOMAIN/CAMERA/video`, fragmented MP4);
/// - `PUT /v1/streams/DOMAIN/CAMERA`: a relay pushes a camera's fragmented MP4 (chunked body);
/// - `POST /v1/dashboard/logins` (the operator): a login for `fuse dashboard`;
/// - `GET /metrics` (the operator's credential or a dashboard session): Prometheus text.
/// Routes marked `.anyone` at the edge make their own check: a dashboard session (its cookie),
/// or for a stream's pusher, a node of the stream's domain by its VPN address.
enum DashboardRoutes {
    typealias Add = (HTTPRequest.Method, String, Access, @escaping @Sendable (Request, FuseRequestContext) async throws -> Response) -> Void

    /// How often the event stream sends the federation when nothing changes.
    static let eventInterval: Duration = .milliseconds(500)

    static func add(to on: Add, _ controlPlane: ControlPlane) {
        let dashboard = controlPlane.dashboard
        for asset in DashboardAssets.all {
            on(.get, asset.path, .anyone) { _, _ in
                Response(status: .ok, headers: [.contentType: asset.contentType, .cacheControl: "no-cache", .contentSecurityPolicy: DashboardAssets.contentSecurityPolicy],
                         body: .init(byteBuffer: ByteBuffer(string: asset.text)))
            }
        }
        on(.post, "/dashboard/login", .anyone) { request, context in
            let body = try await request.decode(as: API.DashboardLoginBody.self, context: context)
            let now = controlPlane.now()
            guard let (session, expires) = dashboard.logins.withLock({ $0.login(token: body.token, now: now) }) else {
                controlPlane.logger.notice("dashboard login refused")
                throw DashboardError.invalidLogin
            }
            var response = Response(status: .noContent)
            response.setCookie(Cookie(name: Dashboard.cookie, value: session, expires: expires, path: "/", secure: true, httpOnly: true, sameSite: .strict))
            return response
        }
        on(.post, "/dashboard/logout", .anyone) { request, _ in
            if let session = request.cookies[Dashboard.cookie]?.value { dashboard.logins.withLock { $0.logout(session: session) } }
            var response = Response(status: .noContent)
            response.setCookie(Cookie(name: Dashboard.cookie, value: "", maxAge: 0, path: "/", secure: true, httpOnly: true, sameSite: .strict))
            return response
        }
        on(.get, "/dashboard/api/federation", .anyone) { request, _ in
            try dashboard.requireSession(request, now: controlPlane.now())
            return try json(try await controlPlane.federationView())
        }
        on(.get, "/dashboard/api/events", .anyone) { request, _ in
            try dashboard.requireSession(request, now: controlPlane.now())
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: ResponseBody { writer in
                let encoder = API.encoder()
                var version: Int64 = -1
                // Until the session ends (the page then asks for a login) or the master stops.
                while dashboard.hasSession(request, now: controlPlane.now()), !Task.isShuttingDownGracefully, await !dashboard.streams.isClosed {
                    let view = try await controlPlane.federationView()
                    version = view.mapVersion
                    try await writer.write(ByteBuffer(string: "data: " + String(decoding: try encoder.encode(view), as: UTF8.self) + "\n\n"))
                    await controlPlane.watch.wait(since: version, timeout: eventInterval)
                }
                try await writer.finish(nil)
            })
        }
        on(.get, "/dashboard/api/streams/{domain}/{camera}/video", .anyone) { request, context in
            try dashboard.requireSession(request, now: controlPlane.now())
            let id = "\(try context.parameters.require("domain"))/\(try context.parameters.require("camera"))"
            let video = try await dashboard.streams.watch(id)
            return Response(status: .ok, headers: [.contentType: "video/mp4", .cacheControl: "no-store"], body: ResponseBody { writer in
                for await chunk in video {
                    if Task.isShuttingDownGracefully { break }
                    try await writer.write(ByteBuffer(bytes: chunk))
                }
                try await writer.finish(nil)
            })
        }
        on(.put, "/v1/streams/{domain}/{camera}", .anyone) { request, context in
            let domain = try context.parameters.require("domain")
            let camera: String
            do { camera = try NameRule.label(try context.parameters.require("camera"), kind: "camera") } catch { throw StreamError.invalid("\(error)") }
            let node = try controlPlane.streamPusher(source: context.remoteAddress?.ipAddress, domain: domain)
            let connection = try await dashboard.streams.begin(domain: node.domain, camera: camera, node: node.name, at: controlPlane.now())
            do {
                try await StreamIngest.receive(request.body, connection: connection, hub: dashboard.streams, now: controlPlane.now)
            } catch let error as StreamError {
                controlPlane.logger.notice("stream ended", metadata: ["stream": "\(node.domain)/\(camera)", "node": "\(node.name)", "reason": "\(error)"])
                throw error
            }
            return Response(status: .noContent)
        }
        on(.post, "/v1/dashboard/logins", .admin) { request, context in
            let body = try await request.decode(as: API.DashboardLoginRequest.self, context: context)
            return try json(try controlPlane.dashboardLogin(ttlSeconds: body.ttlSeconds), status: .created)
        }
        on(.get, "/metrics", .anyone) { request, context in
            guard context.caller == .admin || dashboard.hasSession(request, now: controlPlane.now()) else {
                throw DashboardError.credentialOrLoginRequired
            }
            let families = FederationMetrics.families(try await controlPlane.federationView(), requests: dashboard.requests.withLock { $0 })
            return Response(status: .ok, headers: [.contentType: PrometheusText.contentType], body: .init(byteBuffer: ByteBuffer(string: PrometheusText.render(families))))
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(bytes: try API.encoder().encode(value))))
    }
}

/// Counts every request of the API by method and status, and times it to its response head.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = FuseRequestContext
    let dashboard: Dashboard

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        // A pushed stream lasts as long as its camera: counted, not timed.
        let timed = !request.uri.path.hasPrefix("/v1/streams/")
        func seconds() -> Double? {
            guard timed else { return nil }
            return (ContinuousClock.now - started).inSeconds
        }
        do {
            let response = try await next(request, context)
            dashboard.requests.withLock { $0.record(method: request.method.rawValue, status: response.status.code, seconds: seconds()) }
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            dashboard.requests.withLock { $0.record(method: request.method.rawValue, status: status, seconds: seconds()) }
            throw error
        }
    }
}
