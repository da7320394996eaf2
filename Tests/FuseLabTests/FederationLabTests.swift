import Foundation
import FuseLab
import FuseModel
import FuseSystem
import Testing

/// The federation core in the paper's Fig. 1 topology: a master in `crisis`, workers in
/// `companyA` and `companyB`, every domain behind a NAT router. Root only; serial.
@Suite("Federation lab", .serialized, .enabled(if: LabSupport.enabled, LabSupport.reason))
struct FederationLabTests {
    @Test("workers join from behind NAT, reach each other through the hub, and leave without a trace")
    func federationAcrossNATs() throws {
        let fixture = try LabFixture()
        defer { fixture.close() }
        let masterBefore = try fixture.lab.snapshot("master")
        let a1Before = try fixture.lab.snapshot("a1")

        try fixture.startMaster()
        var addresses = ["master": "100.64.0.1"]
        for (node, domain) in [("a1", "companyA"), ("b1", "companyB"), ("b2", "companyB")] {
            let joined = try fixture.join(node, domain: domain)
            addresses[node] = joined.address
        }
        #expect(Set(addresses.values).count == 4, "every node has its own address: \(addresses)")

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
        #expect(Set(nodes.map { "\($0.name)=\($0.domain)" }) == ["master=crisis", "a1=companya", "b1=companyb", "b2=companyb"])

        // Nothing routes into a LAN behind a node: a worker that widens its own AllowedIPs to
        // the crisis LAN still cannot reach the operator PC through the hub.
        let operatorPC = try #require(try fixture.lab.node("op").lanAddress)
        let hubKey = try fixture.lab.exec("b1", ["wg", "show", try fixture.interface("b1"), "peers"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let lan = try #require(try fixture.lab.node("op").lanPrefixLength).description
        let crisisLAN = try IPv4CIDR(network: #require(IPv4Address(operatorPC)), prefixLength: Int(lan) ?? 24).description
        _ = try fixture.shell("b1", "wg set \(try fixture.interface("b1")) peer \(hubKey) allowed-ips 100.64.0.0/16,\(crisisLAN) && ip route add \(crisisLAN) dev \(try fixture.interface("b1"))")
        #expect(!(try fixture.ping(from: "b1", to: operatorPC, count: 2)), "b1 reached the crisis LAN through the hub")

        // A worker leaves: the master forgets it within a second and its host is as before.
        try fixture.fuseOK("a1", ["leave"])
        #expect(try fixture.lab.snapshot("a1") == a1Before)
        #expect(waitUntil(timeout: .seconds(2)) { (try? fixture.nodes().map(\.name))?.contains("a1") == false })
        #expect(try fixture.ping(from: "b1", to: addresses["b2"] ?? ""), "the others keep talking")

        // The master's leave: destroy removes every trace.
        try fixture.fuseOK("b1", ["leave"])
        try fixture.fuseOK("b2", ["leave"])
        try fixture.fuseOK("master", ["master", "destroy"])
        #expect(try fixture.lab.snapshot("master") == masterBefore)
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
        #expect(try fixture.lab.snapshot("a1") == before)
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
        #expect(waitUntil(timeout: .seconds(5)) { !Daemon.isAlive(masterPID) })
        #expect(try fixture.ping(from: "a1", to: b1.address, count: 3), "a1 → b1 while the control plane is down")
        #expect(try fixture.ping(from: "b1", to: a1.address), "b1 → a1 while the control plane is down")

        // The agent of a1 and its wireguard-go die too (a reboot, say): the agent comes back
        // from its cached map although the control plane is still down.
        let a1State = try fixture.stateDir("a1") + "/node"
        for file in ["agent.pid", "wireguard.pid"] {
            let pid = try #require(fixture.pid("\(a1State)/\(file)"))
            kill(pid, SIGKILL)
            #expect(waitUntil(timeout: .seconds(5)) { !Daemon.isAlive(pid) })
        }
        #expect(!(try fixture.ping(from: "a1", to: b1.address)), "the tunnel is really down")
        let agent = try Daemon.spawn(try fixture.lab.execArguments("a1", [fixture.fuse, "agent", "run"]), logFile: "\(a1State)/agent.log",
                                     environment: try fixture.lab.execEnvironment("a1"))
        #expect(waitUntil(timeout: .seconds(10)) { (try? fixture.ping(from: "a1", to: b1.address)) == true },
                "a1's tunnel came back from the cache while the control plane is down")

        try fixture.fuseOK("master", ["master", "start"])
        let after = try fixture.nodes().map { "\($0.name)=\($0.address)" }.sorted()
        #expect(after == before)
        #expect(waitUntil(timeout: .seconds(12)) { (try? fixture.nodes().allSatisfy { $0.online }) == true }, "every node reports in again")
        Daemon.stop(agent)
    }
}
