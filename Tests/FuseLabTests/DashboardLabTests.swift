import Foundation
import FuseLab
import FuseModel
import FuseSystem
import Testing

extension LabTests {
    /// The paper's use case end to end: cameras in two companies, a relay per company deployed
    /// with `fuse deploy`, and the crisis centre's dashboard in a real headless Chromium on the
    /// operator's PC. Screenshots go to `test-output/dashboard/`.
    @Suite("Dashboard lab", .serialized)
    struct DashboardLabTests {
        static func policy(cameraRule: Bool) -> String {
            let camera = cameraRule ? #", { "name": "crisis watches the gate", "from": ["domain:crisis"], "to": ["exposure:gate"] }"# : ""
            return #"{ "rules": [ { "name": "nodes ping each other", "from": ["*"], "to": ["*"], "proto": "icmp" }"# + camera + " ] }"
        }

        static var output: String {
            LabSupport.packageRoot.appendingPathComponent("test-output/dashboard").path
        }

        /// The first bytes of what `url` serves, fetched from `node` (a camera's stream starts with `ftyp`).
        func peek(_ fixture: LabFixture, from node: String, _ url: String) throws -> String {
            try fixture.shell(node, "curl -s -m 3 '\(url)' 2>/dev/null | head -c 16").stdout
        }

        /// `curl` from `node` to the master's API over the tunnel; returns the response body.
        func api(_ fixture: LabFixture, from node: String, _ method: String, _ path: String, file: String? = nil, master: String) throws -> String {
            let upload = file.map { " -T '\($0)' -H 'Expect:'" } ?? ""
            return try fixture.shell(node, "curl -sk -m 10 -X \(method)\(upload) 'https://\(master):\(fixture.lab.apiPort)\(path)'").stdout
        }

        struct ParsedMetrics: Decodable {
            struct Sample: Decodable {
                let name: String
                let labels: [String: String]
                let value: Double
            }
            let types: [String: String]
            let samples: [Sample]
            func values(_ name: String) -> [String: Double] {
                Dictionary(samples.filter { $0.name == name }.map { ($0.labels["stream"] ?? $0.labels["node"] ?? $0.labels["state"] ?? "", $0.value) }, uniquingKeysWith: { $1 })
            }
        }

        /// The master's `/metrics`, read by Prometheus' own parser (python3-prometheus-client).
        func checkMetrics(_ fixture: LabFixture) throws {
            let script = LabSupport.packageRoot.appendingPathComponent("Tests/FuseLabTests/Scripts/parse_metrics.py").path
            let parsed = try HostCommandRunner(timeout: .seconds(30)).run(["/usr/bin/python3", script], input: try LabVideo.metrics(lab: fixture.lab), environment: nil)
            try #require(parsed.succeeded, "prometheus_client parses /metrics: \(parsed.stderr)")
            let metrics = try JSONDecoder().decode(ParsedMetrics.self, from: Data(parsed.stdout.utf8))
            #expect(metrics.values("fuse_nodes") == ["online": 4, "offline": 0])
            #expect(Set(metrics.values("fuse_node_map_version_lag").keys) == ["master", "a1", "b1", "b2"])
            #expect(Set(metrics.values("fuse_tunnel_handshake_age_seconds").keys) == ["a1", "b1", "b2"])
            #expect(metrics.values("fuse_tunnel_received_bytes_total").values.allSatisfy { $0 > 0 })
            #expect(metrics.values("fuse_stream_fps").count == 4 && metrics.values("fuse_stream_fps").values.allSatisfy { $0 >= 24 }, "\(metrics.values("fuse_stream_fps"))")
            #expect(metrics.values("fuse_stream_latency_seconds").values.allSatisfy { $0 > 0 && $0 < 1 })
            #expect(metrics.types["fuse_api_request_duration_seconds"] == "histogram" && metrics.types["fuse_tunnel_sent_bytes"] == "counter", "\(metrics.types)")
            #expect(metrics.samples.contains { $0.name == "fuse_api_requests_total" && $0.value > 0 })
        }

        @Test("the operator logs in, sees the federation and 4 streams of 2 companies at ≥ 24 fps, and every change within 2 s; companyB can neither reach companyA's camera nor push or read its stream")
        func dashboardAndVideoWall() throws {
            try FileManager.default.createDirectory(atPath: Self.output, withIntermediateDirectories: true)
            let fixture = try LabFixture()
            defer { fixture.close() }
            try fixture.startMaster()
            try fixture.join("a1", domain: "companyA")
            try fixture.join("b1", domain: "companyB")
            try fixture.fuseOK("b2", ["join", try fixture.token(domain: "companyB"), "--name", "b2", "--no-workloads"])
            let nodes = try fixture.nodes()
            let master = try #require(nodes.first { $0.isMaster }?.address.description)
            let a1 = try #require(nodes.first { $0.name == "a1" }?.address.description)
            let caPin = try JoinString(parsing: try fixture.token(domain: "companyA")).caPin

            let video = try LabVideo.start(lab: fixture.lab, master: "\(master):\(fixture.lab.apiPort)") { try fixture.fuseOK($0, $1) }
            defer { video.stop() }
            let gate = try #require(video.cameras.first { $0.name == "gate" })
            try fixture.fuseOK("a1", ["expose", "gate", "--target", "\(try #require(try fixture.lab.node("cam").lanAddress)):\(gate.port)", "--port", "8554"])
            try fixture.setPolicy(Self.policy(cameraRule: true))
            var fps: [String: Double] = [:]
            let streaming = pollUntil(.seconds(60), every: .milliseconds(500)) {
                fps = (try? LabVideo.ingestFPS(lab: fixture.lab)) ?? [:]
                return fps.count == 4 && fps.values.allSatisfy { $0 >= 24 }
            }
            #expect(streaming, "4 streams at ≥ 24 fps at the master's ingest: \(fps)")
            Swift.print("ingest fps: \(fps.sorted { $0.key < $1.key })")
            try checkMetrics(fixture)

            let login = try fixture.json(API.DashboardLogin.self, try fixture.fuseOK("master", ["dashboard", "--json"]))
            #expect(login.url == "https://\(fixture.lab.masterEndpoint):\(fixture.lab.apiPort)/dashboard/")
            let browser = try BrowserSession(lab: fixture.lab, node: "op", caPin: caPin, log: Self.output + "/browser.log")
            defer { browser.close() }
            // The operator's PC reaches the master over the crisis LAN.
            let url = "https://\(try #require(try fixture.lab.node("master").lanAddress)):\(fixture.lab.apiPort)/dashboard/"
            try browser.send(["cmd": "open", "url": url])
            try browser.wait("login form", "!document.querySelector('#login').hidden", timeout: 15)

            // Without a login: no data and no video.
            let refused = try browser.eval("""
                Promise.all(['/dashboard/api/federation', '/dashboard/api/events', '/dashboard/api/streams/companyA/gate/video', '/metrics']
                  .map((u) => fetch(u).then((r) => r.status)))
                """)
            #expect(refused?.array.compactMap(\.number) == [401, 401, 401, 401], "\(refused?.description ?? "")")
            try browser.send(["cmd": "login", "token": "fdl_wrong"])
            try browser.wait("a wrong login is refused", "document.querySelector('#login-error').textContent === 'invalid or expired login token'", timeout: 5)
            #expect(try browser.eval("document.querySelectorAll('[data-node]').length")?.number == 0, "no federation data after a wrong login")

            try browser.send(["cmd": "login", "token": login.token])
            try browser.wait("federation view", "document.querySelectorAll('[data-node]').length === 4 && document.querySelectorAll('[data-domain]').length === 3", timeout: 10)
            try browser.wait("tunnel health from the hub", """
                ['a1', 'b1', 'b2'].every((n) => { const t = document.querySelector(`[data-node="${n}"] .tunnel`); return t && /handshake \\d+ (s|min) ago/.test(t.textContent) && /RTT \\d/.test(t.textContent); })
                """, timeout: 10)
            try browser.wait("the gate's exposure and who may reach it", "(document.querySelector('[data-exposure=\"gate\"]') || {}).textContent?.includes('master')", timeout: 5)

            try browser.send(["cmd": "click", "css": "[data-view=wall]"])
            let wall = try browser.wait("4 tiles of 2 domains at ≥ 24 fps", """
                (() => { const tiles = [...document.querySelectorAll('.tile[data-state="live"]')];
                  return tiles.length === 4 && new Set(tiles.map((t) => t.dataset.stream.split('/')[0])).size === 2
                    && tiles.every((t) => parseFloat(t.dataset.playing) >= 5 && parseFloat(t.dataset.fps) >= 24 && t.dataset.latency) &&
                    tiles.map((t) => ({ stream: t.dataset.stream, fps: parseFloat(t.dataset.fps), latency: parseFloat(t.dataset.latency), playing: parseFloat(t.dataset.playing) })); })()
                """, timeout: 45)
            Swift.print("wall: \(wall.value?.description ?? "")")
            try browser.send(["cmd": "screenshot", "path": Self.output + "/video-wall.png"])
            try browser.send(["cmd": "click", "css": "[data-view=federation]"])
            try browser.send(["cmd": "screenshot", "path": Self.output + "/federation.png"])

            // While companyA's streams are on the wall, companyB reaches neither its camera
            // (LAN, nor the exposure, which the policy gives the crisis domain only) …
            #expect(try peek(fixture, from: "master", "http://\(a1):8554/").contains("ftyp"), "the crisis domain watches the gate through a1's exposure")
            #expect(!(try peek(fixture, from: "b1", "http://\(a1):8554/")).contains("ftyp"), "b1 reached companyA's exposure")
            #expect(!(try peek(fixture, from: "b1", gate.url)).contains("ftyp"), "b1 reached companyA's camera on its LAN")
            // … nor push into or read companyA's streams at the master; bad input is refused.
            let junk = try fixture.scratchFile("junk.bin", "GET / HTTP/1.1\r\n\r\n")
            let huge = fixture.lab.topology.runDirectory + "/huge.mp4"
            try Data(MP4Fixture.ftyp + MP4Fixture.moov + MP4Fixture.be32(0xFFFF_FF00) + Array("mdat".utf8)).write(to: URL(fileURLWithPath: huge))
            let checks: [(String, String?, String)] = [
                ("/v1/streams/companyA/gate", huge, "node b1 of companyB cannot push streams of companyA"),
                ("/dashboard/api/streams/companyA/gate/video", nil, "log in to the dashboard first"),
                ("/v1/streams/companyB/junk", junk, "not a fragmented MP4 stream: it starts with '/ HT', expected 'ftyp'"),
                ("/v1/streams/companyB/huge", huge, "MP4 box 'mdat' of 4294967040 bytes is over the limit of 4194304 bytes"),
            ]
            for (path, file, message) in checks {
                let body = try api(fixture, from: "b1", file == nil ? "GET" : "PUT", path, file: file, master: master)
                #expect(body.contains(message), "\(path) from b1: \(body)")
            }
            #expect(try browser.eval("document.querySelectorAll('.tile').length")?.number == 4, "refused pushes are not on the wall")

            // Changes show within 2 s.
            try fixture.fuseOK("a1", ["unexpose", "gate"])
            try browser.wait("unexpose", "!document.querySelector('[data-exposure=\"gate\"]')", timeout: 2)
            let before = try #require(try browser.eval("document.querySelector('[data-policy-version]').dataset.policyVersion")?.description)
            try fixture.setPolicy(Self.policy(cameraRule: false))
            try browser.wait("policy change", "document.querySelector('[data-policy-version]').dataset.policyVersion !== '\(before)'", timeout: 2)
            try fixture.fuseOK("b2", ["leave"])
            try browser.wait("node leaving", "!document.querySelector('[data-node=\"b2\"]')", timeout: 2)
            try browser.wait("every node applied the new map and policy", "!document.querySelector('#policy').textContent.includes('pending') && document.querySelector('#policy').textContent.includes('applied by master, a1, b1')", timeout: 10)
            try browser.send(["cmd": "screenshot", "path": Self.output + "/federation-after-changes.png"])
            try browser.send(["cmd": "click", "css": "[data-view=wall]"])
            try #require(video.cameras.first { $0.name == "hall" }).stop()
            try browser.wait("camera stopping", "document.querySelector('[data-stream=\"companyB/hall\"]').dataset.state !== 'live'", timeout: 2)
            try browser.wait("the other cameras play on", "[...document.querySelectorAll('.tile[data-state=\"live\"]')].filter((t) => parseFloat(t.dataset.playing) >= 3 && parseFloat(t.dataset.fps) >= 24).length === 3", timeout: 15)
            try browser.send(["cmd": "screenshot", "path": Self.output + "/video-wall-camera-stopped.png"])

            // An expired login is refused; logging out ends the session.
            let short = try fixture.json(API.DashboardLogin.self, try fixture.fuseOK("master", ["dashboard", "--ttl", "2s", "--json"]))
            try browser.wait("an expired login is refused", """
                fetch('/dashboard/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token: '\(short.token)' }) })
                  .then((r) => r.status === 401)
                """, timeout: 6)
            try browser.send(["cmd": "click", "css": "#logout"])
            try browser.wait("logged out", "!document.querySelector('#login').hidden", timeout: 5)
            #expect(try browser.eval("fetch('/dashboard/api/federation').then((r) => r.status)")?.number == 401, "no data after logging out")
        }
    }
}
