import Foundation
import FuseLab
import FuseModel
import FuseSystem
import Testing

extension LabTests {
    /// The node daemon as the one owner of a node: one per state dir, a join that cannot be torn
    /// in half, a host that converges even when its disk is full. Root only; serial.
    @Suite("Node daemon lab", .serialized)
    struct NodeDaemonLabTests {
        struct Status: Decodable {
            let agentRunning: Bool
            let tunnelUp: Bool
            let node: String
        }

        /// The `fuse agent run` processes for a state dir.
        static func daemons(stateDir: String) -> [pid_t] {
            Daemon.commandLines().filter { $0.arguments.contains("agent") && $0.arguments.contains("run") && $0.arguments.contains(stateDir) }.map(\.pid)
        }

        @Test("one daemon per state dir: two joins at once make one node; status comes from the daemon; a killed daemon is seen and restarts")
        func oneDaemonPerStateDir() throws {
            let fixture = try LabFixture()
            defer { fixture.close() }
            try fixture.startMaster()
            let before = try fixture.lab.snapshot("a1")
            let token = try fixture.token(domain: "companyA", uses: 2)
            // Both at once, on one state dir: each prints its exit status, then its stderr.
            let run = fixture.lab.topology.runDirectory  // removed with the lab
            let script = ["a1", "a1x"].map { name in
                "( \(fixture.fuse) join '\(token)' --name \(name) 2>\(run)/join-\(name).err >/dev/null; echo \"\(name) $? $(tail -1 \(run)/join-\(name).err)\" ) &"
            }.joined(separator: "\n") + "\nwait"
            let outcomes = try fixture.shell("a1", script).stdout.split(separator: "\n").map(String.init)
            let succeeded = outcomes.filter { $0.split(separator: " ").dropFirst().first == "0" }
            let refused = outcomes.filter { $0.split(separator: " ").dropFirst().first != "0" }
            #expect(succeeded.count == 1 && refused.count == 1, "one join wins: \(outcomes)")
            let reason = refused.first ?? ""
            #expect(reason.contains("in progress") || reason.contains("already"), "the other says why: \(reason)")
            let names = try fixture.nodes().map(\.name).filter { $0.hasPrefix("a1") }
            #expect(names.count == 1, "one node registered: \(names)")
            let stateDir = try fixture.stateDir("a1")
            #expect(Self.daemons(stateDir: stateDir).count == 1, "one daemon runs")

            // A third join says which node this host already is.
            let again = try fixture.fuse("a1", ["join", try fixture.token(domain: "companyA"), "--name", "a1y"])
            #expect(again.status != 0 && again.stderr.contains("this host is node \(names.first ?? "?")"), "\(again.stderr)")

            // Status is the daemon's; a daemon killed is seen at once, and comes back with `fuse agent run`.
            var status = try fixture.json(Status.self, try fixture.fuseOK("a1", ["status", "--json"]))
            #expect(status.agentRunning && status.tunnelUp)
            let pid = try #require(Self.daemons(stateDir: stateDir).first)
            kill(pid, SIGKILL)
            #expect(pollUntil(.seconds(5)) { !Daemon.isAlive(pid) })
            status = try fixture.json(Status.self, try fixture.fuseOK("a1", ["status", "--json"]))
            #expect(!status.agentRunning && !status.tunnelUp)
            _ = try Daemon.spawn(try fixture.lab.execArguments("a1", [fixture.fuse, "agent", "run"]), logFile: stateDir + "/node/agent.log",
                                 environment: try fixture.lab.execEnvironment("a1"))
            #expect(pollUntil(.seconds(10)) {
                (try? fixture.json(Status.self, try fixture.fuseOK("a1", ["status", "--json"])))?.tunnelUp == true
            }, "the restarted daemon brings the tunnel back")
            #expect(try fixture.ping(from: "a1", to: "100.64.0.1"))
            try fixture.fuseOK("a1", ["leave"])
            #expect(pollUntil(.seconds(5)) { Self.daemons(stateDir: stateDir).isEmpty }, "the daemon exits after the leave")
            try fixture.expectUnchanged("a1", since: before)
        }

        @Test("a join that crashed between enrolment and the node's state completes when run again")
        func resumableJoin() throws {
            let fixture = try LabFixture()
            defer { fixture.close() }
            try fixture.startMaster()
            let join = try fixture.token(domain: "companyA")
            let crashed = try fixture.fuse("a1", ["join", join, "--name", "a1"], environment: ["FUSE_TEST_FAILPOINT": "after-enrolment"])
            #expect(crashed.status != 0, "the daemon died during the join")
            #expect(crashed.stderr.contains("stopped during the operation"), "\(crashed.stderr)")
            let registered = try #require(try fixture.nodes().first { $0.name == "a1" }, "the master registered a1")
            let stateDir = try fixture.stateDir("a1")
            #expect(FileManager.default.fileExists(atPath: stateDir + "/node/enrolment.json"))
            #expect(!FileManager.default.fileExists(atPath: stateDir + "/node/node.json"))

            // The same join string again: the same enrolment, completed (the token had one use).
            let output = try fixture.fuseOK("a1", ["join", join, "--name", "a1", "--json"])
            let joined = try fixture.json(LabFixture.Joined.self, output)
            #expect(joined.address == registered.address.description)
            #expect(try fixture.nodes().filter { $0.name == "a1" }.count == 1)
            #expect(try fixture.ping(from: "a1", to: "100.64.0.1"), "the resumed node's tunnel works")
            #expect(!FileManager.default.fileExists(atPath: stateDir + "/node/enrolment.json"), "nothing pending any more")
            try fixture.fuseOK("a1", ["leave"])
        }

        @Test("a node whose disk is full still applies the maps it receives")
        func fullDiskStillConverges() throws {
            let fixture = try LabFixture()
            defer { fixture.close() }
            let stateDir = try fixture.stateDir("a1")
            try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
            let runner = HostCommandRunner()
            try runner.check(["mount", "-t", "tmpfs", "-o", "size=2m", "fuse-lab-test", stateDir])
            defer { _ = try? runner.run(["umount", "-l", stateDir], input: nil, environment: nil) }
            try fixture.startMaster(policy: nil)  // the default: the crisis domain reaches every exposure
            try fixture.fuseOK("a1", ["join", try fixture.token(domain: "companyA"), "--name", "a1", "--no-workloads"])
            let filler = stateDir + "/filler"
            FileManager.default.createFile(atPath: filler, contents: nil)
            let handle = try #require(FileHandle(forWritingAtPath: filler))
            while (try? handle.write(contentsOf: Data(count: 64 * 1024))) != nil {}
            try? handle.close()

            // A new exposure on a1 (the operator's, on the master) reaches a1's table although a1 cannot cache the map.
            let camera = try #require(try fixture.lab.node("cam").lanAddress)
            try fixture.fuseOK("master", ["expose", "camera", "--node", "a1", "--target", "\(camera):8080", "--port", "8554"])
            #expect(pollUntil(.seconds(5)) {
                (try? fixture.lab.exec("a1", ["nft", "list", "ruleset"]).stdout)?.contains("dnat ip to \(camera):8080") == true
            }, "a1 applied the new map with a full disk")
            try FileManager.default.removeItem(atPath: filler)
            try fixture.fuseOK("a1", ["leave"])
        }
    }
}
