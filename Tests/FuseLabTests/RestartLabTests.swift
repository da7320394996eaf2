import Foundation
import FuseLab
import FuseModel
import FuseSystem
import Testing

extension LabTests {
    /// Restarts and reboots: traffic between two workers (a steady ping stream through the hub)
    /// comes back at once, and nothing is duplicated. Root only; serial.
    @Suite("Restart lab", .serialized)
    struct RestartLabTests {
        struct Status: Decodable {
            let tunnelUp: Bool
            let address: String?
        }

        /// Master, a1 (companyA) and b1 (companyB), no workloads, nodes may ping each other;
        /// a1's VPN address.
        static func federation(_ fixture: LabFixture) throws -> String {
            try fixture.fuseOK("master", ["master", "init", "--name", "labfed", "--domain", "crisis", "--endpoint", fixture.lab.masterEndpoint,
                                          "--api-port", String(fixture.lab.apiPort), "--wg-port", String(fixture.lab.wgPort), "--no-workloads"])
            try fixture.fuseOK("master", ["master", "start"])
            try fixture.setPolicy(LabPolicy.ping)
            var a1 = ""
            for (node, domain) in [("a1", "companyA"), ("b1", "companyB")] {
                let joined = try fixture.json(LabFixture.Joined.self, try fixture.fuseOK(node, ["join", try fixture.token(domain: domain), "--name", node,
                                                                                                 "--no-workloads", "--json"]))
                if node == "a1" { a1 = String(joined.address.split(separator: "/").first ?? "") }
            }
            return a1
        }

        @Test("traffic between workers resumes within 1 s of an agent restart and within 2 s of a hub kill or a master restart; a worker's tunnel state is true")
        func restartRecovery() throws {
            let fixture = try LabFixture()
            defer { fixture.close() }
            let a1 = try Self.federation(fixture)
            let stream = PingStream(lab: fixture.lab, from: "b1", to: a1, recoveryLimit: .seconds(30))
            let master = try fixture.stateDir("master"), a1State = try fixture.stateDir("a1")

            let agentRestart = try #require(try stream.measure {
                guard let pid = fixture.pid(a1State + "/node/agent.pid") else { throw SystemError("a1 has no agent.pid") }
                kill(pid, SIGKILL)
                #expect(pollUntil(.seconds(5)) { !Daemon.isAlive(pid) })
                _ = try fixture.lab.startDaemon("a1", fuse: fixture.fuse, master: false)
            }, "traffic comes back after a1's daemon restarts")
            #expect(agentRestart.seconds < 1, "agent restart: \(agentRestart.seconds) s without traffic")

            // The hub learns where a1 and b1 are, and keeps it.
            #expect(pollUntil(.seconds(5)) {
                ((try? String(contentsOfFile: master + "/master/hub-endpoints.json", encoding: .utf8)) ?? "").components(separatedBy: ":").count >= 3
            }, "the master keeps both workers' endpoints")

            let hubKill = try #require(try stream.measure {
                guard let pid = fixture.pid(master + "/node/wireguard.pid") else { throw SystemError("the hub has no wireguard.pid") }
                kill(pid, SIGKILL)
            }, "traffic comes back after the hub's wireguard-go is killed")
            #expect(hubKill.seconds < 2, "hub kill: \(hubKill.seconds) s without traffic")

            let masterRestart = try #require(try stream.measure {
                try fixture.fuseOK("master", ["master", "stop"])
                try fixture.fuseOK("master", ["master", "start"])
            }, "traffic comes back after the master restarts")
            #expect(masterRestart.afterEvent < 2, "master restart: traffic back \(masterRestart.afterEvent) s after `fuse master start` returned")

            let status = try fixture.json(Status.self, try fixture.fuseOK("a1", ["status", "--json"]))
            #expect(status.tunnelUp)
            #expect(try fixture.nodes().map(\.name).sorted() == ["a1", "b1", "master"], "nothing duplicated")
            print("restart outages: agent \(agentRestart.seconds) s, hub kill \(hubKill.seconds) s, master restart \(masterRestart.seconds) s (\(masterRestart.afterEvent) s after start returned)")
        }

        @Test("a node and then the master survive a simulated reboot: same address, tunnels, policy and tokens; nothing duplicated")
        func rebootSurvival() throws {
            let fixture = try LabFixture()
            defer { fixture.close() }
            let a1 = try Self.federation(fixture)
            _ = try fixture.token(domain: "companyA", uses: 3)
            let nodesBefore = try fixture.nodes().map { "\($0.name) \($0.address)" }.sorted()
            let policyBefore = try fixture.fuseOK("master", ["policy", "show", "--json"])
            let tokensBefore = try fixture.fuseOK("master", ["token", "list", "--json"])
            let clock = ContinuousClock()

            // a1 reboots: nothing of FUSE runs or is configured there; its daemon starts as the unit would.
            try fixture.lab.simulateReboot("a1")
            #expect(!(try fixture.ping(from: "b1", to: a1)), "a1 is down")
            let nodeStart = clock.now
            _ = try fixture.lab.startDaemon("a1", fuse: fixture.fuse, master: false)
            #expect(pollUntil(.seconds(20), every: .milliseconds(50)) { (try? fixture.ping(from: "b1", to: a1)) == true }, "b1 reaches a1 again")
            let nodeSeconds = (clock.now - nodeStart).inSeconds
            let status = try fixture.json(Status.self, try fixture.fuseOK("a1", ["status", "--json"]))
            #expect(status.tunnelUp && status.address?.hasPrefix(a1) == true, "a1 has its address back: \(status.address ?? "-")")

            // The master reboots: control plane and hub come back from its state dir — once the
            // master has seen where a1's new wireguard-go is (a new NAT mapping after its reboot).
            let masterDir = try fixture.stateDir("master"), hub = try fixture.interface("master")
            #expect(pollUntil(.seconds(10)) {
                let seen = ((try? fixture.shell("master", "wg show \(hub) endpoints"))?.stdout ?? "").split(separator: "\n").compactMap { $0.split(separator: "\t").last }
                let kept = (try? String(contentsOfFile: masterDir + "/master/hub-endpoints.json", encoding: .utf8)) ?? ""
                return seen.count == 2 && seen.allSatisfy { kept.contains(String($0)) }
            }, "the master keeps the workers' current endpoints")
            try fixture.lab.simulateReboot("master")
            let masterStart = clock.now
            _ = try fixture.lab.startDaemon("master", fuse: fixture.fuse, master: true)
            // Known gap: sometimes one worker does not answer the restarted hub's handshakes at its
            // kept endpoint, and comes back only when its own session times out (~30 s); the
            // worker-side "initiate when the control plane comes back" is not built yet.
            let back = pollUntil(.seconds(30), every: .milliseconds(50)) { (try? fixture.ping(from: "b1", to: a1)) == true }
            let seen = back ? "" : ((try? fixture.shell("master", "tail -15 \(masterDir)/master/master.log; wg show all dump; cat \(masterDir)/master/hub-endpoints.json"))?.stdout ?? "")
            withKnownIssue("a worker sometimes misses the restarted hub's first handshakes", isIntermittent: true) {
                #expect(back, "b1 reaches a1 through the restarted hub: \(seen)")
            }
            let masterSeconds = (clock.now - masterStart).inSeconds
            #expect(pollUntil(.seconds(15)) { (try? fixture.fuse("master", ["nodes", "--json"]))?.status == 0 }, "the control plane answers")
            #expect(try fixture.nodes().map { "\($0.name) \($0.address)" }.sorted() == nodesBefore, "the same nodes, none duplicated")
            #expect(try fixture.fuseOK("master", ["policy", "show", "--json"]) == policyBefore)
            #expect(try fixture.fuseOK("master", ["token", "list", "--json"]) == tokensBefore)
            #expect(pollUntil(.seconds(40)) { (try? fixture.ping(from: "a1", to: "100.64.0.1")) == true }, "a1 reaches the master")
            print(String(format: "reboot to traffic: node %.2f s, master %.2f s", nodeSeconds, masterSeconds))
            try fixture.fuseOK("a1", ["leave"])
            try fixture.fuseOK("b1", ["leave"])
            try fixture.fuseOK("master", ["master", "destroy"])
        }
    }
}
