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

        @Test("traffic between workers resumes within 1 s of an agent restart and within 2 s of a hub kill or a master restart; a hub table removed behind FUSE's back comes back; a worker's tunnel state is true")
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

            // The hub's table removed behind FUSE's back (its chains accept by default: the
            // policy would no longer hold): the repair loads it again within a few seconds.
            let table = NodeRuleset.tableName(interface: try fixture.interface("master"))
            func hubTable() -> [String]? {
                guard let listed = try? fixture.lab.exec("master", ["nft", "list", "table", "inet", table]), listed.succeeded else { return nil }
                return LabFixture.words(of: listed.stdout)
            }
            let rules = try #require(hubTable())
            #expect(try fixture.lab.exec("master", ["nft", "delete", "table", "inet", table]).succeeded)
            #expect(hubTable() == nil)
            #expect(pollUntil(.seconds(15)) { hubTable() == rules }, "the hub's table comes back as it was")

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
            // Both workers hear the control plane again within a second and start fresh sessions
            // with the restarted hub (which also dials their kept endpoints).
            let back = pollUntil(.seconds(30), every: .milliseconds(50)) { (try? fixture.ping(from: "b1", to: a1)) == true }
            let masterSeconds = (clock.now - masterStart).inSeconds
            let seen = back ? "" : ((try? fixture.shell("master", "tail -15 \(masterDir)/master/master.log; wg show all dump; cat \(masterDir)/master/hub-endpoints.json"))?.stdout ?? "")
            #expect(back, "b1 reaches a1 through the restarted hub: \(seen)")
            #expect(masterSeconds < 5, "traffic back \(masterSeconds) s after the master's daemon started")
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

        struct NodeIdentity: Decodable, Equatable {
            let masterHost: String
            let credential: String?
        }

        @Test("the master moves to another host with another address (set-endpoint, backup, restore): every node follows, none re-joins")
        func masterMove() throws {
            let fixture = try LabFixture()
            defer { fixture.close() }
            let a1 = try Self.federation(fixture)
            let nodesBefore = try fixture.nodes().map { "\($0.name) \($0.address)" }.sorted()
            func identity(_ node: String) throws -> NodeIdentity {
                try fixture.json(NodeIdentity.self, try String(contentsOfFile: try fixture.stateDir(node) + "/node/node.json", encoding: .utf8))
            }
            let before = try ["a1", "b1"].map(identity)
            let newEndpoint = try fixture.lab.publishMasterPorts(on: "op")

            // On the running master: the new endpoint reaches both nodes, which then look for it there.
            let bad = try fixture.fuse("master", ["master", "set-endpoint", "\(newEndpoint):\(fixture.lab.apiPort)"])
            #expect(bad.status != 0 && bad.stderr.split(separator: "\n").count == 1, "a port is refused in one line: \(bad.stderr)")
            try fixture.fuseOK("master", ["master", "set-endpoint", newEndpoint])
            #expect(pollUntil(.seconds(10)) { (try? ["a1", "b1"].map(identity).map(\.masterHost)) == [newEndpoint, newEndpoint] },
                    "both nodes follow the new endpoint")
            let backup = fixture.lab.topology.runDirectory + "/master-move.tar"
            try fixture.fuseOK("master", ["master", "backup", backup])
            try fixture.fuseOK("master", ["master", "stop"])
            // The new host's router never saw the old master's flows (here it is the same router).
            try fixture.lab.forgetTrackedConnections(aroundHost: "op")

            // On the new host (another namespace, another LAN and public address).
            let environment = ["FUSE_STATE_DIR": fixture.lab.topology.runDirectory + "/op-master", "FUSE_INTERFACE": try fixture.interface("master")]
            try fixture.fuseOK("op", ["master", "restore", backup], environment: environment)
            let clock = ContinuousClock(), started = clock.now
            try fixture.fuseOK("op", ["master", "start"], environment: environment)
            let back = pollUntil(.seconds(30), every: .milliseconds(50)) { (try? fixture.ping(from: "b1", to: a1)) == true }
            let seconds = (clock.now - started).inSeconds
            let hub = try fixture.interface("master"), a1Link = try fixture.interface("a1")
            let seen = back ? "" : ((try? fixture.shell("op", "wg show \(hub) dump; ip -br addr; tail -20 \(environment["FUSE_STATE_DIR"] ?? "")/master/master.log"))?.stdout ?? "")
                + ((try? fixture.shell("a1", "wg show \(a1Link) dump; tail -20 \(try fixture.stateDir("a1"))/node/agent.log"))?.stdout ?? "")
            #expect(back, "b1 reaches a1 through the moved hub: \(seen)")
            #expect(seconds < 5, "traffic back \(seconds) s after the moved master started")
            #expect(pollUntil(.seconds(10)) { (try? fixture.ping(from: "a1", to: "100.64.0.1")) == true }, "a1 reaches the moved master")
            let nodes = try fixture.json([API.NodeInfo].self, try fixture.fuseOK("op", ["nodes", "--json"], environment: environment))
            #expect(nodes.map { "\($0.name) \($0.address)" }.sorted() == nodesBefore, "the same nodes at the same addresses")
            #expect(try ["a1", "b1"].map(identity).map(\.credential) == before.map(\.credential), "no node re-joined")
            #expect(pollUntil(.seconds(15)) {
                ((try? fixture.json([API.NodeInfo].self, try fixture.fuseOK("op", ["nodes", "--json"], environment: environment))) ?? []).allSatisfy(\.online)
            }, "every node is online at the moved master")
            let token = try fixture.json(API.TokenCreateResponse.self,
                                         try fixture.fuseOK("op", ["token", "create", "--domain", "companyB", "--json"], environment: environment))
            #expect(try JoinString(parsing: token.join).host == newEndpoint, "new join strings name the new endpoint")
            print(String(format: "master move: traffic between the workers back %.2f s after `fuse master start` on the new host", seconds))
            try fixture.fuseOK("a1", ["leave"])
            try fixture.fuseOK("b1", ["leave"])
            try fixture.fuseOK("op", ["master", "destroy"], environment: environment)
        }

        @Test("a control plane restarted while a node joins leaves no half-joined node: the join completes, enrolled once")
        func masterRestartDuringJoin() throws {
            let fixture = try LabFixture()
            defer { fixture.close() }
            _ = try Self.federation(fixture)
            let run = fixture.lab.topology.runDirectory
            // b2 joins in the background; the master restarts at different moments of its join.
            for (attempt, delay) in [0.1, 0.5, 1.0].enumerated() {
                let token = try fixture.token(domain: "companyB")
                let out = "\(run)/join-\(attempt)"
                try fixture.shell("b2", "(\(shellQuote(fixture.fuse)) join \(shellQuote(token)) --name b2 --no-workloads --json > \(out).json 2> \(out).err; echo $? > \(out).rc) > /dev/null 2>&1 &")
                Thread.sleep(forTimeInterval: delay)
                try fixture.fuseOK("master", ["master", "stop"])
                try fixture.fuseOK("master", ["master", "start"])
                #expect(pollUntil(.seconds(60)) { FileManager.default.fileExists(atPath: out + ".rc") }, "the join ends")
                let rc = (try? String(contentsOfFile: out + ".rc", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
                let stderr = (try? String(contentsOfFile: out + ".err", encoding: .utf8)) ?? ""
                #expect(rc == "0", "a restart \(delay) s into the join: the join completes (\(stderr))")
                let b2 = try fixture.nodes().filter { $0.name == "b2" }
                #expect(b2.count == 1, "b2 is enrolled once: \(b2.map(\.address))")
                let status = try fixture.json(Status.self, try fixture.fuseOK("b2", ["status", "--json"]))
                #expect(status.address?.hasPrefix(b2.first?.address.description ?? "-") == true, "b2 has the address the master gave it")
                // (The restart may also have come just after the join: the tunnel is back within seconds.)
                #expect(pollUntil(.seconds(10)) { (try? fixture.ping(from: "b2", to: "100.64.0.1")) == true }, "b2's tunnel carries traffic")
                try fixture.fuseOK("b2", ["leave"])
                #expect(try fixture.nodes().filter { $0.name == "b2" }.isEmpty)
            }
        }

        @Test("reboots with workloads: a node's engine is back in the Swarm with its task; the master's registry images and stacks are back")
        func rebootWithWorkloads() throws {
            let fixture = try LabFixture()
            defer { fixture.close() }
            let image = fixture.lab.topology.runDirectory + "/labbox.tar"
            try LabImage.write(to: image, page: WorkloadLabTests.page)
            try fixture.startMaster()
            try fixture.join("a1", domain: "companyA")
            try fixture.fuseOK("master", ["image", "import", image, "labbox:1"])
            try fixture.fuseOK("master", ["deploy", "-f", try fixture.scratchFile("stack.yml", WorkloadLabTests.webAndClient), "--name", "lab"])
            func running() -> [String] {
                let tasks = (try? fixture.json([StackTask].self, try fixture.fuseOK("master", ["ps", "--json", "lab"]))) ?? []
                return tasks.filter { $0.state == "running" }.map { "\($0.service)@\($0.node ?? "")" }.sorted()
            }
            func webAnswers() -> Bool {
                ((try? fixture.lab.execInTask("master", service: "lab_client", ["wget", "-qO-", "http://web/"]))?.stdout ?? "").contains(WorkloadLabTests.page)
            }
            #expect(pollUntil(.seconds(60)) { running() == ["lab_client@master", "lab_web@a1"] }, "deployed: \(running())")
            #expect(pollUntil(.seconds(30)) { webAnswers() }, "the client reaches web")

            // a1 reboots: its engine comes back, in the Swarm, and runs its task again.
            let clock = ContinuousClock()
            try fixture.lab.simulateReboot("a1")
            let nodeStart = clock.now
            _ = try fixture.lab.startDaemon("a1", fuse: fixture.fuse, master: false)
            #expect(pollUntil(.seconds(120), every: .milliseconds(200)) { webAnswers() }, "web answers again from a1: \(running())")
            let nodeSeconds = (clock.now - nodeStart).inSeconds
            #expect(running() == ["lab_client@master", "lab_web@a1"], "tasks after a1's reboot")

            // The master reboots: store, registry, Swarm manager and stacks come back from its state dir.
            let nodesBefore = try fixture.nodes().map { "\($0.name) \($0.address)" }.sorted()
            try fixture.lab.simulateReboot("master")
            let masterStart = clock.now
            _ = try fixture.lab.startDaemon("master", fuse: fixture.fuse, master: true)
            #expect(pollUntil(.seconds(30)) { (try? fixture.fuse("master", ["nodes", "--json"]))?.status == 0 }, "the control plane answers")
            #expect(pollUntil(.seconds(120), every: .milliseconds(200)) { webAnswers() }, "the client reaches web after the master's reboot: \(running())")
            let masterSeconds = (clock.now - masterStart).inSeconds
            #expect(pollUntil(.seconds(30)) { ((try? fixture.fuse("master", ["image", "ls"]))?.stdout ?? "").contains("labbox:1") }, "the registry still has the image")
            #expect(pollUntil(.seconds(60)) { running() == ["lab_client@master", "lab_web@a1"] }, "the stack runs as before: \(running())")
            #expect(try fixture.nodes().map { "\($0.name) \($0.address)" }.sorted() == nodesBefore, "the same nodes, none duplicated")
            print(String(format: "reboot to workload traffic: node %.2f s, master %.2f s", nodeSeconds, masterSeconds))
            try fixture.fuseOK("a1", ["leave"])
            try fixture.fuseOK("master", ["master", "destroy"])
        }
    }
}
