import Foundation
import FuseLab
import FuseModel
import FuseSystem
import Testing

extension LabTests {
    /// The paper's Fig. 2: every company shares exactly what it chose; nothing else is visible.
    /// Root only; serial with the other lab suites.
    @Suite("Policy lab", .serialized)
    struct PolicyLabTests {
        static let tcpPort = 8080
        static let udpPort = 9090

        static let policy = """
            {
              "rules": [
                { "name": "crisis sees the camera", "from": ["domain:crisis"], "to": ["exposure:camera", "exposure:camfeed"] },
                { "name": "everyone pings the master", "from": ["*"], "to": ["node:master"], "proto": "icmp" },
                { "name": "companyB uses its store", "from": ["domain:companyB"], "to": ["exposure:store"] }
              ]
            }
            """

        /// A probe target and whether the policy (and the LANs' own firewalls) should let it through.
        struct Cell {
            let source: String
            let target: String
            let address: String
            let proto: FlowProtocol
            let port: Int?
            let expected: Bool
        }

        /// Starts a TCP and a UDP echo-ish listener (answering "ok") on every host of the lab.
        func startListeners(_ fixture: LabFixture) throws {
            for node in fixture.lab.nodes where node.isHost {
                _ = try Daemon.spawn(try fixture.lab.execArguments(node.id, ["socat", "TCP-LISTEN:\(Self.tcpPort),fork,reuseaddr", "SYSTEM:echo ok"]), logFile: "/dev/null")
                _ = try Daemon.spawn(try fixture.lab.execArguments(node.id, ["socat", "UDP-RECVFROM:\(Self.udpPort),fork,reuseaddr", "SYSTEM:echo ok"]), logFile: "/dev/null")
            }
            for node in fixture.lab.nodes where node.isHost {
                #expect(pollUntil(.seconds(5)) {
                    let listening = (try? fixture.lab.exec(node.id, ["ss", "-lntu"]).stdout) ?? ""
                    return listening.contains(":\(Self.tcpPort)") && listening.contains(":\(Self.udpPort)")
                }, "listeners on \(node.id)")
            }
        }

        /// Probes all cells of one source at once; returns target → reached.
        /// `wait` bounds how long one probe waits for an answer (a denied flow gets none).
        func probe(_ fixture: LabFixture, source: String, cells: [Cell], wait: Double = 1) throws -> [Bool] {
            let commands = cells.enumerated().map { index, cell -> String in
                let probe: String
                switch cell.proto {
                case .tcp: probe = "socat -T\(wait) - TCP:\(cell.address):\(cell.port ?? 0),connect-timeout=\(wait) </dev/null 2>/dev/null | grep -q ok"
                // -t: after its input ends (at once), socat waits only 0.5 s by default for
                // the answer, which a loaded machine's forked echo did not always give in time.
                case .udp: probe = "echo x | socat -T\(wait) -t\(wait) - UDP:\(cell.address):\(cell.port ?? 0) 2>/dev/null | grep -q ok"
                case .icmp: probe = "ping -n -q -c1 -W\(wait) \(cell.address) >/dev/null 2>&1"
                }
                return "( if \(probe); then echo \"\(index) 1\"; else echo \"\(index) 0\"; fi ) &"
            }
            let result = try fixture.shell(source, commands.joined(separator: "\n") + "\nwait")
            var reached = Array(repeating: false, count: cells.count)
            for line in result.stdout.split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 2, let index = Int(parts[0]), index < cells.count { reached[index] = parts[1] == "1" }
            }
            return reached
        }

        /// Runs every cell; prints the matrix; returns the cells that differ from the expectation.
        func mismatches(_ fixture: LabFixture, _ cells: [Cell], print show: Bool = true) throws -> [Cell] {
            var wrong: [Cell] = []
            var lines: [String] = []
            for source in Set(cells.map(\.source)).sorted() {
                let mine = cells.filter { $0.source == source }
                var reached = try probe(fixture, source: source, cells: mine)
                // A lost datagram (or an answer later than its wait) can make an allowed flow
                // look denied, never a denied one allowed: such cells are probed once more,
                // waiting 3 s, and said so. A flow that answers where it should not fails at once.
                let missed = mine.indices.filter { mine[$0].expected && !reached[$0] }
                if !missed.isEmpty {
                    print("probing again from \(source): \(missed.map { "\(mine[$0].target) \(mine[$0].proto.rawValue)" })")
                    for (index, got) in zip(missed, try probe(fixture, source: source, cells: missed.map { mine[$0] }, wait: 3)) { reached[index] = got }
                }
                for (cell, got) in zip(mine, reached) {
                    if got != cell.expected { wrong.append(cell) }
                    lines.append(String(format: "%-6@ → %-18@ %-4@ %-5@ %@%@", source as NSString, cell.target as NSString, cell.proto.rawValue as NSString,
                                        cell.port.map(String.init) as NSString? ?? "-", got ? "allow" : "deny ", got == cell.expected ? "" : "   ✘ expected \(cell.expected ? "allow" : "deny")"))
                }
            }
            if show {
                print("reachability matrix: \(cells.count) cells, \(cells.filter(\.expected).count) allowed, \(cells.filter { !$0.expected }.count) denied, \(wrong.count) mismatches")
                print(lines.joined(separator: "\n"))
            }
            return wrong
        }

        @Test("the reachability matrix of Fig. 2 matches the policy; changes take effect within a second")
        func reachabilityMatrix() throws {
            let fixture = try LabFixture()
            defer { fixture.close() }
            try fixture.startMaster()
            var vpn: [String: String] = ["master": "100.64.0.1"]
            for (node, domain) in [("a1", "companyA"), ("b1", "companyB"), ("b2", "companyB")] {
                vpn[node] = try fixture.join(node, domain: domain).address
            }
            try startListeners(fixture)
            let lan = { (id: String) throws -> String in try #require(try fixture.lab.node(id).lanAddress) }
            try fixture.fuseOK("a1", ["expose", "camera", "--target", "\(try lan("cam")):\(Self.tcpPort)", "--port", "8554"])
            try fixture.fuseOK("a1", ["expose", "camfeed", "--target", "\(try lan("cam")):\(Self.udpPort)", "--proto", "udp", "--port", "9554"])
            try fixture.fuseOK("b1", ["expose", "store", "--target", "\(try lan("store")):\(Self.tcpPort)", "--port", "5432"])
            // Targets that would open the node itself or the federation are refused, one line each, nothing stored.
            for target in [try lan("a1"), "127.0.0.1", "0.0.0.0", "255.255.255.255", "224.0.0.1", vpn["b1"] ?? "", "192.0.2.7"] {
                let refused = try fixture.fuse("a1", ["expose", "bad", "--target", "\(target):\(Self.tcpPort)"])
                #expect(refused.status != 0 && refused.stderr.hasPrefix("fuse: error: target \(target) is "), "expose \(target): \(refused.stderr)")
                #expect(refused.stderr.split(separator: "\n").count == 1, "one line: \(refused.stderr)")
            }
            #expect(!(try fixture.fuseOK("master", ["services"])).contains("bad"), "no refused exposure was stored")
            let policyFile = try fixture.scratchFile("policy.json", Self.policy)
            let stored = try fixture.json(API.PolicyInfo.self, try fixture.fuseOK("master", ["policy", "set", policyFile, "--json"]))
            #expect(stored.pendingOn == [], "policy set answers once every online node applies it")

            let domainOf = ["master": "crisis", "op": "crisis", "a1": "companyA", "cam": "companyA", "b1": "companyB", "b2": "companyB", "store": "companyB"]
            let federated: Set = ["master", "a1", "b1", "b2"]
            let exposures: [(name: String, node: String, proto: FlowProtocol, port: Int, allowedFrom: Set<String>)] = [
                ("camera", "a1", .tcp, 8554, ["master"]), ("camfeed", "a1", .udp, 9554, ["master"]), ("store", "b1", .tcp, 5432, ["b2"]),
            ]
            var cells: [Cell] = []
            for source in domainOf.keys.sorted() {
                // Every node's VPN address, on a TCP and a UDP port and with ICMP.
                for target in federated.sorted() where target != source {
                    for (proto, port) in [(FlowProtocol.tcp, Optional(Self.tcpPort)), (.udp, Optional(Self.udpPort)), (.icmp, nil)] {
                        let allowed = federated.contains(source) && proto == .icmp && target == "master"
                        cells.append(Cell(source: source, target: target, address: vpn[target] ?? "", proto: proto, port: port, expected: allowed))
                    }
                }
                // Every LAN device at its own address: only from its own LAN.
                for device in ["op", "cam", "store"] where device != source {
                    for (proto, port) in [(FlowProtocol.tcp, Optional(Self.tcpPort)), (.udp, Optional(Self.udpPort)), (.icmp, nil)] {
                        cells.append(Cell(source: source, target: device, address: try lan(device), proto: proto, port: port,
                                          expected: domainOf[source] == domainOf[device]))
                    }
                }
                // Every exposure, and its neighbours: the other protocol and the next port.
                for exposure in exposures where exposure.node != source {
                    let address = vpn[exposure.node] ?? ""
                    cells.append(Cell(source: source, target: exposure.name, address: address, proto: exposure.proto, port: exposure.port,
                                      expected: exposure.allowedFrom.contains(source)))
                    cells.append(Cell(source: source, target: exposure.name + "+1", address: address, proto: exposure.proto, port: exposure.port + 1, expected: false))
                    cells.append(Cell(source: source, target: exposure.name + "/other", address: address, proto: exposure.proto == .tcp ? .udp : .tcp,
                                      port: exposure.port, expected: false))
                }
            }
            let wrong = try mismatches(fixture, cells)
            #expect(wrong.isEmpty, "mismatching cells: \(wrong.map { "\($0.source)→\($0.target) \($0.proto)" })")

            // LAN devices that route the VPN range via their own node reach nothing at a VPN
            // address: not the node's ports, not the federation's services, not other nodes.
            let api = fixture.lab.apiPort
            let services: [(FlowProtocol, Int?)] = [(.tcp, Self.tcpPort), (.udp, Self.udpPort), (.icmp, nil), (.tcp, 5000), (.tcp, 2377), (.tcp, 7946), (.udp, 7946),
                                                    (.udp, 53), (.tcp, 53), (.tcp, api)]
            var routed: [Cell] = []
            for (device, via, targets) in [("op", "master", ["master", "a1"]), ("cam", "a1", ["a1", "master"]), ("store", "b1", ["b1", "master"])] {
                _ = try fixture.shell(device, "ip route add 100.64.0.0/16 via \(try lan(via))")
                for target in targets {
                    for (proto, port) in services {
                        routed.append(Cell(source: device, target: "\(target) via \(via)", address: vpn[target] ?? "", proto: proto, port: port, expected: false))
                    }
                }
                for exposure in exposures where exposure.node == via {
                    routed.append(Cell(source: device, target: "\(exposure.name) via \(via)", address: vpn[via] ?? "", proto: exposure.proto, port: exposure.port, expected: false))
                }
            }
            let routedWrong = try mismatches(fixture, routed)
            #expect(routedWrong.isEmpty, "LAN devices with a route into the VPN reached: \(routedWrong.map { "\($0.source)→\($0.target) \($0.proto)/\($0.port ?? 0)" })")

            // Names: NAME.DOMAIN.fuse resolves over the federation, from any node.
            for source in ["master", "b1"] {
                let dig = { (name: String) throws -> String in
                    try fixture.lab.exec(source, ["dig", "@100.64.0.1", name, "+short", "+time=1", "+tries=2"], timeout: .seconds(10)).stdout
                        .trimmingCharacters(in: .whitespacesAndNewlines)
                }
                #expect(try dig("camera.companyA.fuse") == vpn["a1"], "from \(source)")
                #expect(try dig("b2.companyb.fuse") == vpn["b2"], "from \(source)")
                #expect(try dig("nosuch.companyA.fuse") == "", "from \(source)")
            }

            // The policy answers without traffic.
            let decision = try fixture.json(PolicyDecision.self, try fixture.fuseOK("master", ["policy", "test", "b1", "camera", "8554", "--json"]))
            #expect(!decision.allowed && decision.rule == "default: deny")
            let allowed = try fixture.json(PolicyDecision.self, try fixture.fuseOK("master", ["policy", "test", "master", "camera", "8554", "--json"]))
            #expect(allowed.allowed && allowed.rule == "crisis sees the camera")

            // A bad policy file is refused with its line, and the old policy stays in force.
            try """
                {
                  "rules": [
                    { "from": ["domain:crisis"], "to": ["exposure:nosuch"] }
                  ]
                }
                """.write(toFile: policyFile, atomically: true, encoding: .utf8)
            let refused = try fixture.fuse("master", ["policy", "set", policyFile])
            #expect(refused.status != 0 && refused.stderr.contains("line 3"), "stderr: \(refused.stderr)")
            let masterToCamera = Cell(source: "master", target: "camera", address: vpn["a1"] ?? "", proto: .tcp, port: 8554, expected: true)
            #expect(try probe(fixture, source: "master", cells: [masterToCamera]) == [true], "the old policy stays in force")

            // A policy change takes effect everywhere within a second.
            try """
                { "rules": [ { "name": "everyone pings the master", "from": ["*"], "to": ["node:master"], "proto": "icmp" },
                             { "name": "companyB uses its store", "from": ["domain:companyB"], "to": ["exposure:store"] } ] }
                """.write(toFile: policyFile, atomically: true, encoding: .utf8)
            let clock = ContinuousClock()
            var start = clock.now
            try fixture.fuseOK("master", ["policy", "set", policyFile])
            #expect(pollUntil(.seconds(1), every: .milliseconds(20)) { (try? probe(fixture, source: "master", cells: [masterToCamera], wait: 0.2)) == [false] })
            print("policy change in force after \(clock.now - start)")

            // Unexpose: gone within a second.
            let b2ToStore = Cell(source: "b2", target: "store", address: vpn["b1"] ?? "", proto: .tcp, port: 5432, expected: true)
            #expect(try probe(fixture, source: "b2", cells: [b2ToStore]) == [true])
            start = clock.now
            try fixture.fuseOK("b1", ["unexpose", "store"])
            #expect(pollUntil(.seconds(1), every: .milliseconds(20)) { (try? probe(fixture, source: "b2", cells: [b2ToStore], wait: 0.2)) == [false] })
            print("unexpose in force after \(clock.now - start)")

            // Node removal: its exposures and its reachability go with it.
            let b2ToMaster = Cell(source: "b2", target: "master", address: "100.64.0.1", proto: .icmp, port: nil, expected: true)
            #expect(try probe(fixture, source: "b2", cells: [b2ToMaster]) == [true])
            start = clock.now
            try fixture.fuseOK("master", ["node", "remove", "b2"])
            #expect(pollUntil(.seconds(1), every: .milliseconds(20)) { (try? probe(fixture, source: "b2", cells: [b2ToMaster], wait: 0.2)) == [false] })
            print("node removal in force after \(clock.now - start)")
        }

        @Test("a node that sends with another node's VPN address is dropped")
        func spoofedSourcesAreDropped() throws {
            let fixture = try LabFixture()
            defer { fixture.close() }
            try fixture.startMaster()
            let a1 = try fixture.join("a1", domain: "companyA")
            try fixture.join("b1", domain: "companyB")
            // The new policy reaches every node within a second.
            #expect(pollUntil(.seconds(1)) { (try? fixture.ping(from: "b1", to: "100.64.0.1")) == true }, "b1 pings the master with its own address")
            #expect(pollUntil(.seconds(1)) { (try? fixture.ping(from: "b1", to: a1.address)) == true }, "b1 pings a1 with its own address")
            // b1 claims a1's address.
            let interface = try fixture.interface("b1")
            _ = try fixture.shell("b1", "ip addr add \(a1.address)/32 dev \(interface)")
            let spoofed = try fixture.lab.exec("b1", ["ping", "-n", "-q", "-c", "2", "-W", "1", "-I", a1.address, "100.64.0.1"], timeout: .seconds(10))
            #expect(spoofed.status != 0, "a packet with a1's source address from b1 got an answer")
            let lanSource = try #require(try fixture.lab.node("b1").lanAddress)
            let outside = try fixture.lab.exec("b1", ["sh", "-c", "ip route add 100.64.0.1/32 dev \(interface) src \(lanSource) table 77 && ip rule add from \(lanSource) table 77 && ping -n -q -c 2 -W 1 -I \(lanSource) 100.64.0.1"], timeout: .seconds(10))
            #expect(outside.status != 0, "a packet with a source outside the federation's range got an answer")
        }
    }
}
