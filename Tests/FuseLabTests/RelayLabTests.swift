import Foundation
import FuseLab
import FuseModel
import FuseSystem
import Testing

extension LabTests {
    /// A domain whose router lets no UDP out (companyC): its node reaches the hub over the relay
    /// (one TLS connection to the master's API port) and moves between relay and direct as the
    /// block is lifted and restored. Root only; serial with the other lab suites.
    @Suite("Relay lab", .serialized)
    struct RelayLabTests {
        /// `fuse status --json`'s path on a node.
        static func path(_ fixture: LabFixture, _ node: String) -> String? {
            struct Status: Decodable { let path: String? }
            return (try? fixture.fuse(node, ["status", "--json"])).flatMap { try? fixture.json(Status.self, $0.stdout).path }
        }

        @Test("a node behind a firewall that drops UDP joins with the same command, works through the relay, and moves to direct and back")
        func relayedNode() throws {
            let fixture = try LabFixture(udpBlockedDomain: true)
            defer { fixture.close() }
            try fixture.startMaster(policy: LabPolicy.open)
            let a1 = try fixture.join("a1", domain: "companyA", ["--no-workloads"])
            // The same command as everyone's.
            let c1 = try fixture.join("c1", domain: "companyC", ["--no-workloads"])
            let master = try #require(try fixture.nodes().first { $0.isMaster }).address.description
            let interface = try fixture.interface("c1")
            #expect(Self.path(fixture, "c1") == "relay")
            #expect(Self.path(fixture, "a1") == "direct")
            #expect(pollUntil(.seconds(10), every: .milliseconds(500)) {
                let paths = Dictionary(((try? fixture.nodes()) ?? []).map { ($0.name, $0.path?.rawValue ?? "-") }, uniquingKeysWith: { a, _ in a })
                return paths["c1"] == "relay" && paths["a1"] == "direct"
            }, "fuse nodes shows each worker's path")
            // No UDP leaves companyC at all (the tunnel cannot be direct).
            #expect(try fixture.lab.exec("c1", ["wg", "show", try fixture.interface("c1"), "endpoints"]).stdout.contains("127.0.0.1:"))
            // FUSE_PATH=relay forces the relay where UDP passes: two relayed nodes at once, reaching each other.
            let b1 = try fixture.join("b1", domain: "companyB", ["--no-workloads"], environment: ["FUSE_PATH": "relay"])
            #expect(Self.path(fixture, "b1") == "relay")
            for (from, to) in [("c1", master), ("c1", a1.address), ("a1", c1.address), ("master", c1.address), ("b1", c1.address), ("c1", b1.address)] {
                #expect(try fixture.ping(from: from, to: to, count: 2), "\(from) → \(to)")
            }

            // A TCP transfer runs while the block is lifted and restored.
            let log = fixture.lab.topology.runDirectory + "/iperf-relay.json"
            let server = try Daemon.spawn(try fixture.lab.execArguments("a1", ["iperf3", "-s", "-1", "-B", a1.address]), logFile: log + ".server")
            defer { Daemon.stop(server) }
            #expect(pollUntil(.seconds(5)) { (try? fixture.shell("a1", "ss -ltn | grep -q ':5201 '"))?.status == 0 })
            let client = try Daemon.spawn(try fixture.lab.execArguments("c1", ["iperf3", "-c", a1.address, "-t", "45", "-b", "20M", "--json"]), logFile: log)
            defer { Daemon.stop(client) }

            try fixture.lab.setEgress(.open, domain: "companyC")
            let lifted = ContinuousClock.now
            let direct = pollUntil(.seconds(30), every: .milliseconds(250)) { Self.path(fixture, "c1") == "direct" }
            let toDirect = ContinuousClock.now - lifted
            // (Datagrams still on their way through the relay are dropped once direct: they would roam it back.)
            let endpoint = direct && pollUntil(.seconds(10), every: .milliseconds(250)) {
                (try? fixture.lab.exec("c1", ["wg", "show", interface, "endpoints"]))?.stdout.contains(fixture.lab.masterEndpoint) == true
            }
            #expect(direct, "direct within 30 s of lifting the block")
            #expect(endpoint, "the hub's endpoint is its UDP address again")
            try fixture.lab.setEgress(.noUDP, domain: "companyC")
            let blocked = ContinuousClock.now
            #expect(pollUntil(.seconds(10), every: .milliseconds(250)) { Self.path(fixture, "c1") == "relay" }, "back to the relay within 10 s of blocking")
            let toRelay = ContinuousClock.now - blocked
            print("relay lab: c1 joined in \(c1.seconds) s; to direct in \(toDirect), back to relay in \(toRelay)")

            var status: Int32 = 0
            #expect(pollUntil(.seconds(60), every: .milliseconds(500)) { waitpid(client, &status, WNOHANG) == client }, "iperf3 ends")
            struct Iperf: Decodable {
                struct End: Decodable { struct Sum: Decodable { let bytes: Double }; let sum_received: Sum? }
                let end: End
                let error: String?
            }
            let report = try? JSONDecoder().decode(Iperf.self, from: Data(contentsOf: URL(fileURLWithPath: log)))
            #expect(status == 0 && report?.error == nil, "iperf3 across both switches: \((try? String(contentsOfFile: log, encoding: .utf8))?.suffix(400) ?? "")")
            #expect((report?.end.sum_received?.bytes ?? 0) > 45 * 1_000_000, "the transfer carried data throughout")
            #expect(try fixture.ping(from: "c1", to: a1.address, count: 2))

            // A relayed node cannot inject packets with another node's source address: the hub's
            // cryptokey routing drops them (its own address passes).
            let port = 40123
            _ = try fixture.shell("c1", "ip addr add \(a1.address)/32 dev \(interface)")
            for (source, expected) in [(c1.address, true), (a1.address, false)] {
                let receiver = try Daemon.spawn(try fixture.lab.execArguments("master", ["socat", "-u", "UDP4-RECV:\(port),bind=\(master)", "OPEN:\(log).udp-\(source),creat,append"]), logFile: log + ".socat")
                defer { Daemon.stop(receiver) }
                #expect(pollUntil(.seconds(5)) { (try? fixture.shell("master", "ss -lun | grep -q ':\(port) '"))?.status == 0 }, "the receiver listens")
                for _ in 0..<5 { _ = try fixture.shell("c1", "echo from-\(source) | socat -u - UDP4-SENDTO:\(master):\(port),bind=\(source)"); usleep(100_000) }
                let got = pollUntil(.seconds(2)) { ((try? String(contentsOfFile: "\(log).udp-\(source)", encoding: .utf8)) ?? "").contains("from-\(source)") }
                #expect(got == expected, "a datagram from c1 with source \(source) \(expected ? "must" : "must not") reach the master")
            }
        }

        @Test("behind a firewall that lets only TCP to the API port out (443), a relayed node serves and reaches exposures and runs workloads: the Swarm's traffic goes through the relay")
        func relayedExposuresAndWorkloads() throws {
            let fixture = try LabFixture(udpBlockedDomain: true, apiPort: 443)
            defer { fixture.close() }
            try fixture.lab.setEgress(.apiOnly, domain: "companyC")
            let image = fixture.lab.topology.runDirectory + "/labbox.tar"
            try LabImage.write(to: image, page: WorkloadLabTests.page)
            try fixture.startMaster(policy: LabPolicy.open)
            let a1 = try fixture.join("a1", domain: "companyA", ["--no-workloads"])
            let c1 = try fixture.join("c1", domain: "companyC")
            #expect(Self.path(fixture, "c1") == "relay")
            #expect(try fixture.lab.exec("c1", ["wg", "show", try fixture.interface("c1"), "endpoints"]).stdout.contains("127.0.0.1:"))

            // Exposures both ways: a1 and the master reach c1's sensor, c1 reaches a1's camera.
            let lan = { (id: String) throws -> String in try #require(try fixture.lab.node(id).lanAddress) }
            let run = fixture.lab.topology.runDirectory
            let listeners = try ["sensor", "cam"].map { device in
                try Daemon.spawn(try fixture.lab.execArguments(device, ["socat", "TCP-LISTEN:8080,fork,reuseaddr", "SYSTEM:echo \(device)-answers"]),
                                 logFile: run + "/\(device)-listener.log")
            }
            defer { for listener in listeners { Daemon.stop(listener) } }
            try fixture.fuseOK("c1", ["expose", "sensor", "--target", "\(try lan("sensor")):8080", "--port", "8080"])
            try fixture.fuseOK("a1", ["expose", "camera", "--target", "\(try lan("cam")):8080", "--port", "8554"])
            func answer(from node: String, _ address: String, _ port: Int) -> String {
                (try? fixture.lab.exec(node, ["socat", "-t", "3", "-", "TCP:\(address):\(port),connect-timeout=3"], input: "", timeout: .seconds(10)).stdout) ?? ""
            }
            #expect(pollUntil(.seconds(10)) { answer(from: "a1", c1.address, 8080).contains("sensor-answers") }, "a1 reaches c1's exposure")
            #expect(pollUntil(.seconds(10)) { answer(from: "master", c1.address, 8080).contains("sensor-answers") }, "the master reaches c1's exposure")
            #expect(pollUntil(.seconds(10)) { answer(from: "c1", a1.address, 8554).contains("cam-answers") }, "c1 reaches a1's exposure")
            #expect(!answer(from: "a1", c1.address, 8081).contains("answers"), "nothing else of c1's LAN is exposed")

            // Workloads: c1's engine joined the Swarm through the relay; its task is reached over the overlay.
            try fixture.fuseOK("master", ["image", "import", image, "labbox:1"])
            let stack = WorkloadLabTests.webAndClient.replacingOccurrences(of: "x-fuse-domain: companyA", with: "x-fuse-domain: companyC")
            try fixture.fuseOK("master", ["deploy", "-f", try fixture.scratchFile("stack.yml", stack), "--name", "lab"])
            func running() -> [String] {
                let tasks = (try? fixture.json([StackTask].self, try fixture.fuseOK("master", ["ps", "--json", "lab"]))) ?? []
                return tasks.filter { $0.state == "running" }.map { "\($0.service)@\($0.node ?? "")" }.sorted()
            }
            #expect(pollUntil(.seconds(90)) { running() == ["lab_client@master", "lab_web@c1"] }, "deployed: \(running())")
            #expect(pollUntil(.seconds(30)) {
                ((try? fixture.lab.execInTask("master", service: "lab_client", ["wget", "-qO-", "http://web/"]))?.stdout ?? "").contains(WorkloadLabTests.page)
            }, "the master's container reaches c1's over the overlay")
            #expect(Self.path(fixture, "c1") == "relay", "all of it through the relay")
            try fixture.fuseOK("c1", ["leave"])
            try fixture.fuseOK("master", ["master", "destroy"])
        }

        @Test("relay clients that send garbage, oversized frames, never finish TLS or use a revoked credential are dropped; the others keep working")
        func badRelayClients() throws {
            let fixture = try LabFixture(udpBlockedDomain: true)
            defer { fixture.close() }
            try fixture.startMaster(policy: LabPolicy.ping)
            try fixture.join("a1", domain: "companyA", ["--no-workloads"])
            try fixture.join("c1", domain: "companyC", ["--no-workloads"])
            let master = try #require(try fixture.nodes().first { $0.isMaster }).address.description
            #expect(Self.path(fixture, "c1") == "relay")
            let endpoint = "\(fixture.lab.masterEndpoint):\(fixture.lab.apiPort)"
            struct Config: Decodable { let credential: String? }
            let credential = try #require(try fixture.json(Config.self, String(contentsOfFile: try fixture.stateDir("a1") + "/node/node.json", encoding: .utf8)).credential)
            let run = fixture.lab.topology.runDirectory
            func curl(_ body: String, _ extra: [String] = []) throws -> CommandResult {
                try fixture.lab.exec("a1", ["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "-m", "8", "-X", "POST", "-H", "Authorization: Bearer \(credential)",
                                            "-H", "Transfer-Encoding: chunked", "--data-binary", "@" + body, "https://\(endpoint)/v1/relay"] + extra, timeout: .seconds(20))
            }
            // An oversized frame (length 0xFFFF), then garbage: the stream ends at once.
            let oversized = try fixture.scratchFile("oversized.bin", "")
            try Data([0xFF, 0xFF] + Array(repeating: 0x41, count: 3000)).write(to: URL(fileURLWithPath: oversized))
            let started = ContinuousClock.now
            _ = try curl(oversized)
            #expect(ContinuousClock.now - started < .seconds(7), "an oversized frame ends the stream at once")
            // Frames whose datagrams are not WireGuard's: the hub drops them; the stream stays a stream.
            let garbage = try fixture.scratchFile("garbage.bin", "")
            try Data([0x00, 0x05, 1, 2, 3, 4, 5, 0x00, 0x03, 9, 9, 9]).write(to: URL(fileURLWithPath: garbage))
            #expect(try curl(garbage).stdout == "200", "a stream of frames that are no WireGuard datagrams")
            // A connection that never finishes TLS is closed by the master (request-head timeout 10 s).
            let silent = ContinuousClock.now
            _ = try fixture.lab.exec("a1", ["socat", "-u", "TCP:\(endpoint),connect-timeout=3", "STDOUT"], timeout: .seconds(40))
            #expect(ContinuousClock.now - silent < .seconds(20), "a silent connection is closed")
            #expect(try fixture.ping(from: "c1", to: master, count: 2), "the relayed node keeps working")

            // A stream open while the node is removed ends; the credential is refused from then on.
            // The request head, then nothing (socat, unlike curl, sees the connection close while its input is idle).
            let head = try fixture.scratchFile("relay-head.txt", "POST /v1/relay HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(credential)\r\nTransfer-Encoding: chunked\r\n\r\n")
            let answer = run + "/relay-answer.txt"
            let stream = try Daemon.spawn(try fixture.lab.execArguments("a1", [
                "socat", "-t", "1", "SYSTEM:cat \(head); cat > \(answer)", "OPENSSL:\(endpoint),verify=0",
            ]), logFile: run + "/stream.log")
            defer { Daemon.stop(stream) }
            #expect(pollUntil(.seconds(5)) { ((try? String(contentsOfFile: answer, encoding: .utf8)) ?? "").hasPrefix("HTTP/1.1 200") }, "the stream is open")
            var status: Int32 = 0
            #expect(waitpid(stream, &status, WNOHANG) == 0, "the stream stays open")
            try fixture.fuseOK("master", ["node", "remove", "a1"])
            #expect(pollUntil(.seconds(5), every: .milliseconds(100)) { waitpid(stream, &status, WNOHANG) == stream }, "the removed node's stream ends")
            #expect(try curl(garbage).stdout == "401", "a revoked credential is refused")
            #expect(try fixture.ping(from: "c1", to: master, count: 2), "the relayed node keeps working")
            #expect(Self.path(fixture, "c1") == "relay")
        }
    }
}
