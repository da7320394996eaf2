import Foundation
import FuseLab
import FuseModel
import FuseSystem
import Testing

extension LabTests {
    /// The federation core in the paper's Fig. 1 topology: a master in `crisis`, workers in
    /// `companyA` and `companyB`, every domain behind a NAT router. Root only; serial.
    @Suite("Federation lab", .serialized)
    struct FederationLabTests {
        @Test("workers join from behind NAT, reach each other through the hub, and leave without a trace")
        func federationAcrossNATs() throws {
            let fixture = try LabFixture()
            defer { fixture.close() }
            let masterBefore = try fixture.lab.snapshot("master")
            let a1Before = try fixture.lab.snapshot("a1")

            // Not the default range: nothing may depend on it.
            let cidr = try IPv4CIDR(parsing: "10.99.8.0/22")
            try fixture.startMaster(cidr: cidr.description)
            var addresses = ["master": cidr.firstHost?.description ?? ""]
            for (node, domain) in [("a1", "companyA"), ("b1", "companyB"), ("b2", "companyB")] {
                let joined = try fixture.join(node, domain: domain)
                addresses[node] = joined.address
            }
            #expect(Set(addresses.values).count == 4, "every node has its own address: \(addresses)")
            #expect(addresses.values.allSatisfy { IPv4Address($0).map(cidr.contains) == true }, "addresses from the federation's range: \(addresses)")

            // Every node reaches every other over VPN addresses (workers only through the hub).
            for (from, _) in addresses {
                for (to, address) in addresses where to != from {
                    #expect(try fixture.ping(from: from, to: address), "\(from) → \(to) (\(address))")
                }
            }

            // The hub lists every worker with a recent handshake.
            let dump = try fixture.lab.exec("master", ["wg", "show", try fixture.interface("master"), "latest-handshakes"])
            let handshakes = dump.stdout.split(separator: "\n").compactMap { $0.split(separator: "\t").last.flatMap { Int64($0) } }
            #expect(handshakes.count == 3, "hub peers: \(dump.stdout)")
            let now = Int64(Date().timeIntervalSince1970)
            #expect(handshakes.allSatisfy { $0 > 0 && now - $0 < 60 }, "handshakes: \(handshakes)")

            let nodes = try fixture.nodes()
            #expect(Set(nodes.map(\.name)) == ["master", "a1", "b1", "b2"])
            #expect(nodes.allSatisfy { $0.online })
            #expect(Set(nodes.map { "\($0.name)=\($0.domain)" }) == ["master=crisis", "a1=companyA", "b1=companyB", "b2=companyB"])

            // Nothing routes into a LAN behind a node: a worker that widens its own AllowedIPs to
            // the crisis LAN still cannot reach the operator PC through the hub.
            let operatorPC = try #require(try fixture.lab.node("op").lanAddress)
            let hubKey = try fixture.lab.exec("b1", ["wg", "show", try fixture.interface("b1"), "peers"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let lan = try #require(try fixture.lab.node("op").lanPrefixLength).description
            let crisisLAN = try IPv4CIDR(network: #require(IPv4Address(operatorPC)), prefixLength: Int(lan) ?? 24).description
            _ = try fixture.shell("b1", "wg set \(try fixture.interface("b1")) peer \(hubKey) allowed-ips \(cidr),\(crisisLAN) && ip route add \(crisisLAN) dev \(try fixture.interface("b1"))")
            #expect(!(try fixture.ping(from: "b1", to: operatorPC, count: 2)), "b1 reached the crisis LAN through the hub")

            // A worker with an exposure (IP forwarding on, NAT chains) leaves: the master forgets it
            // within a second and its host is exactly as before.
            let camera = try #require(try fixture.lab.node("cam").lanAddress)
            try fixture.fuseOK("a1", ["expose", "camera", "--target", "\(camera):554"])
            #expect(pollUntil(.seconds(2)) {
                (try? fixture.lab.exec("a1", ["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) == "1"
            }, "a1 forwards to its LAN device once it exposes one")
            try fixture.fuseOK("a1", ["leave"])
            try fixture.expectUnchanged("a1", since: a1Before)
            #expect(pollUntil(.seconds(2)) { (try? fixture.nodes().map(\.name))?.contains("a1") == false })
            #expect(try fixture.ping(from: "b1", to: addresses["b2"] ?? ""), "the others keep talking")

            // The master's leave: destroy removes every trace.
            try fixture.fuseOK("b1", ["leave"])
            try fixture.fuseOK("b2", ["leave"])
            try fixture.fuseOK("master", ["master", "destroy"])
            try fixture.expectUnchanged("master", since: masterBefore)
        }

        @Test("a join string with another CA's pin is refused and changes nothing")
        func wrongPinRefused() throws {
            let fixture = try LabFixture()
            defer { fixture.close() }
            try fixture.startMaster()
            let before = try fixture.lab.snapshot("a1")
            let good = try JoinString(parsing: try fixture.token(domain: "companyA"))
            let forged = JoinString(host: good.host, apiPort: good.apiPort, caPin: String(repeating: "ab", count: 32), tokenID: good.tokenID, secret: good.secret)
            let result = try fixture.fuse("a1", ["join", forged.description, "--name", "a1"])
            #expect(result.status != 0)
            #expect(result.stderr.contains("does not match"), "stderr: \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").last?.hasPrefix("fuse: error:") == true)
            try fixture.expectUnchanged("a1", since: before)
            // The token was never sent, so it still works with the right pin.
            let tokens = try fixture.json([API.TokenInfo].self, try fixture.fuseOK("master", ["token", "list", "--json"]))
            #expect(tokens.map(\.uses) == [0])
            try fixture.fuseOK("a1", ["join", good.description, "--name", "a1"])
        }

        @Test("20 concurrent joins with one single-use token: exactly one node joins")
        func concurrentJoins() throws {
            let fixture = try LabFixture()
            defer { fixture.close() }
            try fixture.startMaster()
            let join = try fixture.token(domain: "companyA")
            let stateRoot = try fixture.stateDir("a1")
            let script = (0..<20).map { i in
                "FUSE_STATE_DIR=\(stateRoot)/c\(i) \(fixture.fuse) join '\(join)' --name c\(i) --interface \(fixture.lab.prefix)c\(i) >/dev/null 2>&1; echo \"c\(i) $?\" &"
            }.joined(separator: "\n") + "\nwait"
            let result = try fixture.shell("a1", script)
            let outcomes = result.stdout.split(separator: "\n").map { $0.split(separator: " ") }
            #expect(outcomes.count == 20)
            let winners = outcomes.filter { $0.last == "0" }.compactMap { $0.first.map(String.init) }
            #expect(winners.count == 1, "winners: \(winners)")
            let nodes = try fixture.nodes()
            #expect(nodes.count == 2, "nodes: \(nodes.map(\.name))")
            #expect(Set(nodes.map(\.name)) == Set(["master"] + winners))
            // The losers left nothing behind: no state, no interface.
            let links = try fixture.lab.exec("a1", ["ip", "-o", "link"]).stdout
            for i in 0..<20 where !winners.contains("c\(i)") {
                #expect(!FileManager.default.fileExists(atPath: "\(stateRoot)/c\(i)"), "c\(i) left its state dir")
                #expect(!links.contains("\(fixture.lab.prefix)c\(i):"), "c\(i) left its interface")
            }
        }

        @Test("control plane killed and restarted: same nodes, traffic keeps flowing; agent restarted while it is down: tunnel back")
        func survivesCrashes() throws {
            let fixture = try LabFixture()
            defer { fixture.close() }
            try fixture.startMaster()
            let a1 = try fixture.join("a1", domain: "companyA")
            let b1 = try fixture.join("b1", domain: "companyB")
            let before = try fixture.nodes().map { "\($0.name)=\($0.address)" }.sorted()

            let masterPID = try #require(fixture.pid(try fixture.stateDir("master") + "/master/master.pid"))
            #expect(kill(masterPID, SIGKILL) == 0)
            #expect(pollUntil(.seconds(5)) { !Daemon.isAlive(masterPID) })
            #expect(try fixture.ping(from: "a1", to: b1.address, count: 3), "a1 → b1 while the control plane is down")
            #expect(try fixture.ping(from: "b1", to: a1.address), "b1 → a1 while the control plane is down")

            // The agent of a1 and its wireguard-go die too (a reboot, say): the agent comes back
            // from its cached map although the control plane is still down.
            let a1State = try fixture.stateDir("a1") + "/node"
            for file in ["agent.pid", "wireguard.pid"] {
                let pid = try #require(fixture.pid("\(a1State)/\(file)"))
                kill(pid, SIGKILL)
                #expect(pollUntil(.seconds(5)) { !Daemon.isAlive(pid) })
            }
            #expect(!(try fixture.ping(from: "a1", to: b1.address)), "the tunnel is really down")
            let agent = try Daemon.spawn(try fixture.lab.execArguments("a1", [fixture.fuse, "agent", "run"]), logFile: "\(a1State)/agent.log",
                                         environment: try fixture.lab.execEnvironment("a1"))
            #expect(pollUntil(.seconds(10)) { (try? fixture.ping(from: "a1", to: b1.address)) == true },
                    "a1's tunnel came back from the cache while the control plane is down")

            try fixture.fuseOK("master", ["master", "start"])
            let after = try fixture.nodes().map { "\($0.name)=\($0.address)" }.sorted()
            #expect(after == before)
            #expect(pollUntil(.seconds(12)) { (try? fixture.nodes().allSatisfy { $0.online }) == true }, "every node reports in again")
            Daemon.stop(agent)
        }

        @Test("fuse node remove revokes a node: the hub drops its peer at once and the node removes everything it made")
        func nodeRemoval() throws {
            let fixture = try LabFixture()
            defer { fixture.close() }
            try fixture.startMaster()
            let b1Before = try fixture.lab.snapshot("b1")
            try fixture.join("a1", domain: "companyA")
            let b1 = try fixture.join("b1", domain: "companyB")
            let hub = try fixture.interface("master")
            func hubPeers() -> Int { ((try? fixture.lab.exec("master", ["wg", "show", hub, "peers"]).stdout) ?? "").split(separator: "\n").count }
            #expect(hubPeers() == 2)

            let clock = ContinuousClock()
            let start = clock.now
            try fixture.fuseOK("master", ["node", "remove", "b1"])
            #expect(pollUntil(.seconds(1)) { hubPeers() == 1 }, "the hub dropped b1's peer within 1 s")
            #expect(!(try fixture.ping(from: "a1", to: b1.address)), "b1 is unreachable once removed")
            // The removed node's agent learns it on its next map poll (a long-poll wakes at once).
            #expect(pollUntil(.seconds(10)) { (try? fixture.lab.snapshot("b1")) == b1Before }, "b1 cleaned up after its removal")
            print("node removal: hub peer gone and node clean after \(clock.now - start)")
            #expect(try fixture.nodes().map(\.name).sorted() == ["a1", "master"])
            let unknown = try fixture.fuse("master", ["node", "remove", "ghost"])
            #expect(unknown.status != 0 && unknown.stderr.contains("no node named ghost"), "stderr: \(unknown.stderr)")
        }

        @Test("bad input: one clear line on stderr, a non-zero exit, nothing half-configured, nothing stored lost")
        func badInput() throws {
            let fixture = try LabFixture()
            defer { fixture.close() }
            let a1Before = try fixture.lab.snapshot("a1")
            func refused(_ node: String, _ args: [String], _ message: String, environment: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation) throws {
                let result = try fixture.fuse(node, args, environment: environment)
                #expect(result.status != 0, "fuse \(args.joined(separator: " ")) succeeded", sourceLocation: sourceLocation)
                let lines = result.stderr.split(separator: "\n")
                #expect(lines.count == 1 && lines[0].hasPrefix("fuse: error:") && lines[0].contains(message),
                        "fuse \(args.joined(separator: " ")): stderr \(result.stderr)", sourceLocation: sourceLocation)
            }
            // Before there is a master.
            try refused("master", ["master", "init", "--name", "f", "--endpoint", fixture.lab.masterEndpoint, "--vpn-cidr", "10.0.0.0/33"], "bad CIDR")
            try refused("master", ["master", "init", "--name", "f", "--endpoint", fixture.lab.masterEndpoint, "--vpn-cidr", "10.1.2.3/16"], "host bits")
            try refused("master", ["master", "init", "--name", "f", "--endpoint", fixture.lab.masterEndpoint, "--vpn-cidr", "10.0.0.0/31"], "too small")
            try refused("master", ["master", "init", "--name", "bad name", "--endpoint", fixture.lab.masterEndpoint], "bad federation name")
            try refused("master", ["master", "init", "--name", "f", "--endpoint", fixture.lab.masterEndpoint, "--api-port", "70000"], "bad API port")
            try refused("master", ["master", "start"], "no federation master here")
            try refused("a1", ["join", "not-a-join-string", "--name", "a1"], "malformed join string")
            try refused("a1", ["join", "fuse1:host:7443:abcd:x.y", "--name", "a1"], "malformed join string")
            try refused("a1", ["leave"], "not in a federation")
            try refused("a1", ["join", "x"], "Missing expected argument '--name")
            try refused("master", ["token", "create", "--domain", "a", "--uses", "many"], "'many' is invalid for '--uses")
            #expect(!FileManager.default.fileExists(atPath: try fixture.stateDir("master") + "/master"), "nothing stored by refused commands")
            try fixture.expectUnchanged("a1", since: a1Before)

            // A port in use: the master does not start and leaves nothing running.
            try fixture.fuseOK("master", ["master", "init", "--name", "f", "--endpoint", fixture.lab.masterEndpoint,
                                          "--api-port", String(fixture.lab.apiPort), "--wg-port", String(fixture.lab.wgPort)])
            let config = try String(contentsOfFile: try fixture.stateDir("master") + "/master/config.json", encoding: .utf8)
            try refused("master", ["master", "init", "--name", "g", "--endpoint", fixture.lab.masterEndpoint], "already")
            #expect(try String(contentsOfFile: try fixture.stateDir("master") + "/master/config.json", encoding: .utf8) == config, "the first federation is intact")
            let blocker = try Daemon.spawn(try fixture.lab.execArguments("master", ["socat", "TCP-LISTEN:\(fixture.lab.apiPort),reuseaddr", "-"]),
                                           logFile: "/dev/null")
            defer { Daemon.stop(blocker) }
            #expect(pollUntil(.seconds(5)) { (try? fixture.lab.exec("master", ["ss", "-ltn"]).stdout.contains(":\(fixture.lab.apiPort)")) == true })
            try refused("master", ["master", "start"], "API port \(fixture.lab.apiPort)/tcp is in use")
            #expect(try fixture.lab.exec("master", ["ip", "-o", "link"]).stdout.contains(try fixture.interface("master")) == false)
            Daemon.stop(blocker)

            // Missing wireguard-go: refused before anything is changed, the token stays unused.
            try fixture.fuseOK("master", ["master", "start"])
            let join = try fixture.token(domain: "companyA")
            try refused("a1", ["join", join, "--name", "a1"], "wireguard-go not found", environment: ["FUSE_WIREGUARD_GO": "/nonexistent/wireguard-go"])
            try fixture.expectUnchanged("a1", since: a1Before)
            try refused("a1", ["join", join, "--name", "bad_name"], "bad node name")
            // WireGuard's socket directory is shared by all namespaces: another node's interface
            // name is refused, and that node's device is left alone.
            let hub = try fixture.interface("master")
            try refused("a1", ["join", join, "--name", "a1", "--interface", hub], "another network namespace")
            #expect(UserspaceWireGuard(interface: hub).isResponding, "the master's hub still answers")
            try refused("a1", ["join", join, "--name", "a1", "--interface", "this-name-is-too-long"], "bad interface name")
            try refused("master", ["token", "create", "--domain", "companyA", "--ttl", "soon"], "bad duration")
            try refused("master", ["token", "revoke", "ffffffffffff"], "no token with id")
            try refused("master", ["node", "remove", "master"], "cannot be removed")
            let tokens = try fixture.json([API.TokenInfo].self, try fixture.fuseOK("master", ["token", "list", "--json"]))
            #expect(tokens.count == 1 && tokens[0].uses == 0 && tokens[0].state == .valid)
            // The join string can come from stdin, keeping the secret out of the process list.
            let joined = try fixture.lab.exec("a1", [fixture.fuse, "join", "-", "--name", "a1"], input: join + "\n", timeout: .seconds(60))
            #expect(joined.status == 0, "join from stdin: \(joined.stderr)")
            try refused("a1", ["join", join, "--name", "a2"], "already belongs to a federation")
        }
    }
}
