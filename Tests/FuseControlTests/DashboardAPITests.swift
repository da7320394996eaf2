import Foundation
import FuseControl
import FuseModel
import Hummingbird
import HummingbirdTesting
import Testing

@Suite struct DashboardAPITests {
    /// A dashboard login through the API; returns the `Cookie` header of its session.
    static func session(_ client: any TestClientProtocol, ttl: Int = 600) async throws -> String {
        let issued = try await client.send(.post, "/v1/dashboard/logins", bearer: Harness.admin, json: API.DashboardLoginRequest(ttlSeconds: ttl))
        try #require(issued.status == .created, "\(issued.text)")
        let login = try issued.decode(API.DashboardLogin.self)
        #expect(login.url == "https://master.example.org:7443/dashboard/")
        let response = try await client.send(.post, "/dashboard/login", json: API.DashboardLoginBody(token: login.token))
        try #require(response.status == .noContent, "\(response.text)")
        let cookie = try #require(response.headers[.setCookie])
        #expect(cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=Strict"), "\(cookie)")
        return String(cookie.split(separator: ";")[0])
    }

    static func get(_ client: any TestClientProtocol, _ uri: String, cookie: String?) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let cookie { headers[.cookie] = cookie }
        return try await client.execute(uri: uri, method: .get, headers: headers)
    }

    static let dataRoutes = ["/dashboard/api/federation", "/dashboard/api/events", "/dashboard/api/streams/companya/cam1/video", "/metrics"]

    @Test func thePageHoldsNoDataAndEveryDataRouteNeedsALogin() async throws {
        try await Harness.withAPI { harness, client in
            let page = try await client.execute(uri: "/dashboard/", method: .get)
            #expect(page.status == .ok && page.text.contains("Operator login"))
            #expect(page.headers[.contentSecurityPolicy]?.contains("default-src 'self'") == true, "no script from elsewhere")
            #expect(!page.text.contains(harness.config.federation))
            for script in ["/dashboard/app.js", "/dashboard/app.css"] {
                #expect(try await client.execute(uri: script, method: .get).status == .ok)
            }
            for route in Self.dataRoutes {
                for cookie in [nil, "fuse_dashboard=forged", "fuse_dashboard="] {
                    expectError(try await Self.get(client, route, cookie: cookie), .unauthorized)
                }
            }
            // A node's credential is no operator login.
            let (_, token) = try await client.createToken()
            let joined = try await client.join(token: token, name: "a1").decode(API.JoinResponse.self)
            expectError(try await client.send(.post, "/v1/dashboard/logins", bearer: joined.credential, json: API.DashboardLoginRequest(ttlSeconds: 60)), .unauthorized)
            expectError(try await client.send(.get, "/metrics", bearer: joined.credential), .unauthorized)
            expectError(try await client.send(.post, "/v1/dashboard/logins", json: API.DashboardLoginRequest(ttlSeconds: 60)), .unauthorized)
        }
    }

    @Test func aLoginShowsTheFederationUntilItExpires() async throws {
        try await Harness.withAPI { harness, client in
            let (_, token) = try await client.createToken()
            #expect(try await client.join(token: token, name: "a1").status == .created)
            let cookie = try await Self.session(client, ttl: 120)
            let response = try await Self.get(client, "/dashboard/api/federation", cookie: cookie)
            #expect(response.status == .ok, "\(response.text)")
            let view = try response.decode(FederationView.self)
            #expect(view.federation == "testfed")
            #expect(view.domains.map(\.name) == ["crisis", "companya"], "the crisis domain first")
            #expect(view.nodes.map(\.name).sorted() == ["a1", "master"])
            #expect(view.nodes.first { $0.name == "a1" }?.online == true)
            #expect(view.policy.version == nil)
            #expect(try await Self.get(client, "/metrics", cookie: cookie).status == .ok)

            harness.clock.advance(121)
            expectError(try await Self.get(client, "/dashboard/api/federation", cookie: cookie), .unauthorized)

            // Wrong, expired and malformed logins.
            expectError(try await client.send(.post, "/dashboard/login", json: API.DashboardLoginBody(token: "fdl_nope")), .unauthorized, "invalid or expired login token")
            let issued = try await client.send(.post, "/v1/dashboard/logins", bearer: Harness.admin, json: API.DashboardLoginRequest(ttlSeconds: 5))
            let login = try issued.decode(API.DashboardLogin.self)
            harness.clock.advance(6)
            expectError(try await client.send(.post, "/dashboard/login", json: API.DashboardLoginBody(token: login.token)), .unauthorized, "invalid or expired login token")
            expectError(try await client.send(.post, "/dashboard/login", body: ByteBuffer(string: "{\"token\":")), .badRequest)
            expectError(try await client.send(.post, "/v1/dashboard/logins", bearer: Harness.admin, json: API.DashboardLoginRequest(ttlSeconds: 0)), .badRequest,
                        "bad ttl: use 1 second to 30 days")
            var big: HTTPFields = [.contentType: "application/json"]
            big[.contentLength] = String(1 << 20)
            let oversized = try await client.execute(uri: "/dashboard/login", method: .post, headers: big, body: ByteBuffer(repeating: 0x20, count: 1 << 20))
            #expect(oversized.status == .contentTooLarge)
        }
    }

    @Test func metricsAreOperatorOnlyPrometheusText() async throws {
        try await Harness.withAPI { _, client in
            _ = try await client.send(.get, "/v1/health")
            let response = try await client.send(.get, "/metrics", bearer: Harness.admin)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == PrometheusText.contentType)
            for line in [#"fuse_nodes{state="online"} 0"#, "# TYPE fuse_api_request_duration_seconds histogram", #"fuse_api_requests_total{method="GET",code="200"} 1"#] {
                #expect(response.text.contains(line), "\(line) in \(response.text)")
            }
        }
    }

    /// The live server sees the test client's address (127.0.0.1): with the federation on
    /// 127.0.0.0/24 that is the master's VPN address, so the client pushes as the master
    /// (domain crisis).
    @Test func relaysPushOnlyTheirOwnDomainsStreamsAndOnlyMP4() async throws {
        try await Harness.withAPI(cidr: "127.0.0.0/24", mode: .live) { _, client in
            let stream = MP4Fixture.ftyp + MP4Fixture.moov + (0..<50).flatMap { frame in
                MP4Fixture.fragment(decodeTime: UInt64(frame) * 512, keyframe: frame % 25 == 0, wallclock: Date())
            }
            let pushed = try await client.execute(uri: "/v1/streams/crisis/cam1", method: .put, headers: [.contentType: "video/mp4"], body: ByteBuffer(bytes: stream))
            #expect(pushed.status == .noContent, "\(pushed.text)")
            expectError(try await client.execute(uri: "/v1/streams/companya/cam1", method: .put, body: ByteBuffer(bytes: stream)), .forbidden,
                        "node master of crisis cannot push streams of companya")
            expectError(try await client.execute(uri: "/v1/streams/crisis/cam2", method: .put, body: ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n")), .badRequest,
                        "not a fragmented MP4 stream: it starts with '/ HT', expected 'ftyp'")
            expectError(try await client.execute(uri: "/v1/streams/crisis/Bad_Name", method: .put, body: ByteBuffer(bytes: stream)), .badRequest)
            let cookie = try await Self.session(client)
            let view = try await Self.get(client, "/dashboard/api/federation", cookie: cookie).decode(FederationView.self)
            let cam1 = try #require(view.streams.first { $0.id == "crisis/cam1" }, "\(view.streams)")
            #expect(cam1.frames == 50 && cam1.droppedFrames == 0 && cam1.node == "master" && cam1.state == .ended)
            #expect(!view.streams.contains { $0.camera == "cam2" }, "a refused stream is not on the wall")
            expectError(try await Self.get(client, "/dashboard/api/streams/crisis/cam1/video", cookie: cookie), .notFound, "no live stream crisis/cam1")
        }
    }

    @Test func aStreamFromOutsideTheFederationIsRefused() async throws {
        try await Harness.withAPI(mode: .live) { _, client in
            let stream = MP4Fixture.ftyp + MP4Fixture.moov
            expectError(try await client.execute(uri: "/v1/streams/crisis/cam1", method: .put, body: ByteBuffer(bytes: stream)), .forbidden,
                        "streams are pushed over the federation: connect to the master's VPN address from a node")
        }
    }
}
