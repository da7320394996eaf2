import Foundation
import FuseModel
import Testing

@Suite struct DashboardModelTests {
    let now = Date(timeIntervalSince1970: 1_900_000_000)

    @Test func loginTokensGiveSessionsThatEndWithThem() throws {
        var logins = DashboardLogins()
        let (token, expires) = logins.issue(ttl: 60, now: now)
        #expect(token.hasPrefix("fdl_") && expires == now.addingTimeInterval(60))
        #expect(logins.login(token: "fdl_wrong", now: now) == nil)
        #expect(logins.login(token: "", now: now) == nil)
        let granted = logins.login(token: token, now: now.addingTimeInterval(10))
        let session = try #require(granted)
        #expect(session.expires == expires)
        #expect(logins.isValid(session: session.session, now: now.addingTimeInterval(59)))
        #expect(!logins.isValid(session: session.session, now: now.addingTimeInterval(61)), "a session ends with its login")
        #expect(!logins.isValid(session: token, now: now), "a login token is no session")
        #expect(logins.login(token: token, now: now.addingTimeInterval(61)) == nil, "an expired login is refused")
        let another = logins.issue(ttl: 60, now: now).token
        let secondGrant = logins.login(token: another, now: now)
        let second = try #require(secondGrant)
        logins.logout(session: second.session)
        #expect(!logins.isValid(session: second.session, now: now))
    }

    @Test func prometheusTextEscapesAndRendersHistograms() {
        let text = PrometheusText.render([
            MetricFamily("fuse_x", .gauge, help: "An x.\nSecond line.", samples: [
                .init(1, labels: [("node", "a\"1\\")]), .init(0.25), .init(.nan),
            ]),
            MetricFamily("fuse_t_seconds", .histogram, help: "Times.",
                         samples: PrometheusText.histogram(labels: [("k", "v")], bounds: [0.1, 1], counts: [2, 1, 1], sum: 3.5)),
        ])
        #expect(text == """
            # HELP fuse_x An x.\\nSecond line.
            # TYPE fuse_x gauge
            fuse_x{node="a\\"1\\\\"} 1
            fuse_x 0.25
            fuse_x NaN
            # HELP fuse_t_seconds Times.
            # TYPE fuse_t_seconds histogram
            fuse_t_seconds_bucket{k="v",le="0.1"} 2
            fuse_t_seconds_bucket{k="v",le="1"} 3
            fuse_t_seconds_bucket{k="v",le="+Inf"} 4
            fuse_t_seconds_sum{k="v"} 3.5
            fuse_t_seconds_count{k="v"} 4

            """)
    }

    @Test func wireGuardCountersPerPeer() throws {
        let a = WireGuardKey.generatePrivate().publicKey, b = WireGuardKey.generatePrivate().publicKey
        let peers = WireGuardPeerStats.parse("""
            private_key=\(WireGuardKey.generatePrivate().hex)
            listen_port=51820
            public_key=\(a.hex)
            endpoint=172.31.2.2:40000
            last_handshake_time_sec=1900000000
            rx_bytes=1234
            tx_bytes=5678
            public_key=\(b.hex)
            rx_bytes=0
            errno=0

            """)
        #expect(peers == [
            WireGuardPeerStats(publicKey: a, lastHandshake: 1_900_000_000, receivedBytes: 1234, sentBytes: 5678, endpoint: "172.31.2.2:40000"),
            WireGuardPeerStats(publicKey: b),
        ])
    }

    @Test func wireGuardCountersAtTheEdgesAreReadOrZero() {
        let key = WireGuardKey.generatePrivate().publicKey
        let peers = WireGuardPeerStats.parse("""
            public_key=\(key.hex)
            garbage without an equals sign
            rx_bytes=9223372036854775807
            tx_bytes=9223372036854775808
            last_handshake_time_sec=-5
            errno=0

            """)
        #expect(peers == [WireGuardPeerStats(publicKey: key, lastHandshake: 0, receivedBytes: .max, sentBytes: 0)])
    }

    @Test func metricsOfAFederationView() {
        let view = FederationView(
            federation: "fed", generatedAt: now, mapVersion: 7, policy: .init(version: 3, rules: 2, appliedBy: ["master"], pendingOn: ["a1"]),
            domains: [.init(name: "companyA", nodes: [
                .init(name: "a1", domain: "companyA", role: "worker", address: "100.64.0.2", online: true, lastSeen: now.addingTimeInterval(-2),
                      appliedVersion: 6, versionLag: 1, runsWorkloads: true, tasks: [],
                      tunnel: .init(lastHandshake: now.addingTimeInterval(-30), receivedBytes: 10, sentBytes: 20, rttMilliseconds: 1.5, endpoint: nil)),
            ])],
            exposures: [],
            streams: [.init(id: "companyA/cam1", domain: "companyA", camera: "cam1", node: "a1", state: .live, ingestFPS: 25, bitsPerSecond: 2e6,
                            latencyMilliseconds: 80, frames: 100, droppedFrames: 0, viewers: 1, since: now)])
        var requests = RequestMetrics()
        requests.record(method: "GET", status: 200, seconds: 0.003)
        let text = PrometheusText.render(FederationMetrics.families(view, requests: requests))
        for line in [
            #"fuse_nodes{state="online"} 1"#, #"fuse_node_map_version_lag{node="a1",domain="companyA"} 1"#,
            #"fuse_tunnel_handshake_age_seconds{node="a1",domain="companyA"} 30"#, #"fuse_tunnel_rtt_seconds{node="a1",domain="companyA"} 0.0015"#,
            #"fuse_stream_fps{stream="companyA/cam1",domain="companyA",node="a1"} 25"#, #"fuse_stream_latency_seconds{stream="companyA/cam1",domain="companyA",node="a1"} 0.08"#,
            #"fuse_api_requests_total{method="GET",code="200"} 1"#, #"fuse_api_request_duration_seconds_bucket{le="0.005"} 1"#,
            #"fuse_streams{state="live"} 1"#, "fuse_policy_version 3",
        ] {
            #expect(text.contains(line + "\n"), "\(line) in \(text)")
        }
    }
}
