import ArgumentParser
import Foundation
import FuseModel
import FuseLab
import FuseSystem

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a lab, federate master, a1, b1 and b2 with fuse, expose companyA's camera to the crisis domain only, ping every node from every node over the VPN, deploy containers across domains, and put cameras of two companies on the crisis centre's video wall.",
        discussion: """
            Steps: lab up; in the master's namespace 'fuse master init' and 'fuse master start'; \
            per worker a token ('fuse token create --domain D --json') and 'fuse join'; then \
            'fuse nodes' and a ping matrix over the VPN addresses (ping -c1 -W2); then 'fuse image \
            import' of a busybox image, 'fuse deploy' of a web service in companyA and a client on \
            the master, and the client fetches the web page by service name; then cameras in companyA \
            and companyB, a relay per company ('fuse deploy'), and their streams on the master's \
            dashboard ('fuse dashboard' prints where; with --keep also forwarded to 127.0.0.1 here). Unless --keep, \
            the workers leave, the master is destroyed and the lab torn down. Exits non-zero if \
            any step or ping fails.
            """)

    @OptionGroup var options: PrefixOption
    @OptionGroup var federation: FederationOptions
    @Flag(help: "Keep the federation and the lab running afterwards (tear down later with 'fuse-lab down').")
    var keep = false

    static let workers = [("a1", "companyA"), ("b1", "companyB"), ("b2", "companyB")]

    func run() throws {
        let fusePath = try federation.fusePath()
        let (apiPort, wgPort) = (federation.apiPort, federation.wgPort)
        let clock = ContinuousClock()
        let start = clock.now
        func progress(_ message: String) {
            print(String(format: "[%6.1fs] ", (clock.now - start).inSeconds) + message)
            fflush(nil)
        }

        progress("bringing up lab '\(options.prefix)'")
        let lab = try Lab.up(prefix: options.prefix, apiPort: apiPort, wgPort: wgPort)
        progress("lab up: master endpoint \(lab.masterEndpoint) (API tcp/\(apiPort), WireGuard udp/\(wgPort))")

        func fuseIn(_ node: String, _ args: [String]) throws -> String {
            let result = try lab.exec(node, [fusePath] + args, timeout: .seconds(120))
            guard result.succeeded else {
                let detail = oneLine(SystemError(result.stderr.isEmpty ? result.stdout : result.stderr))
                throw LabError("'fuse \(args.joined(separator: " "))' in \(node) failed (exit \(result.status)): \(detail)")
            }
            return result.stdout
        }

        var failure: String?
        var pingFailures = 0
        var joined: [String] = []
        var masterStarted = false
        do {
            progress("master: fuse master init")
            _ = try fuseIn("master", ["master", "init", "--name", "demo", "--domain", "crisis", "--endpoint", lab.masterEndpoint,
                                      "--api-port", String(apiPort), "--wg-port", String(wgPort)])
            progress("master: fuse master start")
            masterStarted = true
            _ = try fuseIn("master", ["master", "start"])
            for (worker, domain) in Self.workers {
                let tokenOutput = try fuseIn("master", ["token", "create", "--domain", domain, "--json"])
                let join = try Self.joinString(from: tokenOutput)
                progress("\(worker): fuse join (domain \(domain))")
                joined.append(worker)
                _ = try fuseIn(worker, ["join", join, "--name", worker])
                progress("\(worker): joined")
            }
            print(try fuseIn("master", ["nodes"]), terminator: "")
            try Self.exposeCamera(lab: lab, fuse: fuseIn, progress: progress)
            progress("master: fuse policy set (nodes ping each other; crisis sees the camera)")
            let policy = try lab.exec("master", [fusePath, "policy", "set", "-"], input: Self.demoPolicy, timeout: .seconds(30))
            guard policy.succeeded else { throw LabError("fuse policy set failed: \(policy.stderr)") }
            print(try fuseIn("master", ["services"]), terminator: "")
            let members = try Self.members(from: try fuseIn("master", ["nodes", "--json"]), lab: lab)
            progress("ping matrix over the VPN (\(members.count) nodes)")
            let (table, failures) = try Self.pingMatrix(lab: lab, members: members)
            print(table, terminator: "")
            pingFailures = failures
            progress(failures == 0 ? "all pings succeeded" : "\(failures) pings failed")
            pingFailures += try Self.fetchCamera(lab: lab, a1Address: members.first { $0.node == "a1" }?.address ?? "", progress: progress)
            pingFailures += try Self.deployWorkload(lab: lab, fuse: fuseIn, progress: progress)
            pingFailures += try Self.showVideoWall(lab: lab, master: members.first { $0.node == lab.topology.masterNodeId }?.address ?? "", keep: keep,
                                                   fuse: fuseIn, progress: progress)
        } catch {
            failure = oneLine(error)
            progress("failed: \(failure ?? "")")
        }

        if keep {
            progress("kept: the federation and lab '\(lab.prefix)' are still running; 'fuse-lab down --prefix \(lab.prefix)' removes them")
        } else {
            var problems: [String] = []
            for worker in joined {
                progress("\(worker): fuse leave")
                do { _ = try fuseIn(worker, ["leave"]) } catch { problems.append(oneLine(error)) }
            }
            if masterStarted {
                progress("master: fuse master destroy")
                do { _ = try fuseIn("master", ["master", "destroy"]) } catch { problems.append(oneLine(error)) }
            }
            let report = try Lab.down(prefix: lab.prefix)
            problems += report.problems
            progress("lab '\(lab.prefix)' down")
            if !problems.isEmpty, failure == nil { failure = "clean-up: " + problems.joined(separator: "; ") }
        }
        if let failure { throw LabError(failure) }
        if pingFailures > 0 { throw LabError("\(pingFailures) of the pings over the VPN failed") }
    }

    /// The demo's policy: nodes may ping each other; the crisis domain sees the camera.
    static let demoPolicy = """
        { "rules": [
            { "name": "nodes ping each other", "from": ["*"], "to": ["*"], "proto": "icmp" },
            { "name": "crisis sees the camera", "from": ["domain:crisis"], "to": ["exposure:camera"] } ] }
        """

    /// a1 exposes companyA's camera host (a tiny TCP server in its LAN that sends one "frame") to the federation.
    static func exposeCamera(lab: Lab, fuse: (String, [String]) throws -> String, progress: (String) -> Void) throws {
        guard let camera = try lab.node("cam").lanAddress else { throw LabError("the lab has no camera host") }
        _ = try Daemon.spawn(try lab.execArguments("cam", ["socat", "TCP-LISTEN:8080,fork,reuseaddr",
                                                           "SYSTEM:echo camera-frame-42"]),
                             logFile: "/dev/null")
        progress("a1: fuse expose camera --target \(camera):8080 --port 8554")
        _ = try fuse("a1", ["expose", "camera", "--target", "\(camera):8080", "--port", "8554"])
    }

    /// The master fetches a frame through a1's exposure; b1 (companyB) is refused. Returns the
    /// number of surprises.
    static func fetchCamera(lab: Lab, a1Address: String, progress: (String) -> Void) throws -> Int {
        var surprises = 0
        for (node, expected) in [("master", true), ("b1", false)] {
            let result = try lab.exec(node, ["socat", "-T1", "-", "TCP:\(a1Address):8554,connect-timeout=1"], timeout: .seconds(5))
            let got = result.stdout.contains("camera-frame-42")
            progress("\(node) → camera via a1 \(a1Address):8554: \(got ? "✓ got a frame" : "✗ refused")\(got == expected ? "" : " (unexpected)")")
            if got != expected { surprises += 1 }
        }
        return surprises
    }

    static let webPage = "hello from a container on companyA's a1"

    /// Imports a busybox image, deploys a web service to companyA and a client to the master,
    /// and fetches the page from the client by service name. Returns the number of surprises.
    static func deployWorkload(lab: Lab, fuse: (String, [String]) throws -> String, progress: (String) -> Void) throws -> Int {
        let image = lab.topology.runDirectory + "/demo-image.tar"
        try LabImage.write(to: image, page: webPage)
        progress("master: fuse image import (busybox root file system → the federation's registry)")
        _ = try fuse("master", ["image", "import", image, "demobox:1"])
        let stack = """
            services:
              web:
                image: demobox:1
                command: ["httpd", "-f", "-p", "80", "-h", "/www"]
                stop_grace_period: 1s
                x-fuse-domain: companyA
              client:
                image: demobox:1
                command: ["sleep", "86400"]
                stop_grace_period: 1s
                x-fuse-node: master
            """
        let file = lab.topology.runDirectory + "/demo-stack.yml"
        try stack.write(toFile: file, atomically: true, encoding: .utf8)
        progress("master: fuse deploy (web placed in companyA, client on the master)")
        print(try fuse("master", ["deploy", "-f", file, "--name", "demo"]), terminator: "")
        let fetched = try lab.execInTask("master", service: "demo_client", ["wget", "-qO-", "http://web/"], timeout: .seconds(10))
        let got = fetched.stdout.contains(webPage)
        progress("master's container → web (companyA) by service name over the federation: \(got ? "✓ \"\(webPage)\"" : "✗ \(oneLine(SystemError(fetched.stderr)))")")
        return got ? 0 : 1
    }

    /// The `join` field of `fuse token create --json` (or the whole output if it is one bare line).
    static func joinString(from output: String) throws -> String {
        let trimmed = output.trimmingCharacters(in: .whitespacesAndNewlines)
        if let data = trimmed.data(using: .utf8),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            guard let join = object["join"] as? String, !join.isEmpty else {
                throw LabError("'fuse token create --json' printed no 'join' field: \(trimmed)")
            }
            return join
        }
        guard !trimmed.isEmpty, !trimmed.contains(where: \.isWhitespace) else {
            throw LabError("cannot read the join string from 'fuse token create --json': \(trimmed)")
        }
        return trimmed
    }

    struct Member {
        let name: String
        let node: String
        let address: String
        let online: Bool
    }

    /// Federation members from `fuse nodes --json`, mapped to lab nodes by name; the one member
    /// whose name is no lab node id is the master's node.
    static func members(from output: String, lab: Lab) throws -> [Member] {
        guard let data = output.data(using: .utf8),
              let array = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
            throw LabError("'fuse nodes --json' did not print a JSON array: \(output.prefix(200))")
        }
        let federated = Set(lab.topology.federatedNodes.map(\.id))
        var members: [Member] = []
        var unmapped: [(String, String, Bool)] = []
        for object in array {
            guard let name = object["name"] as? String, let rawAddress = object["address"] as? String else {
                throw LabError("'fuse nodes --json' entry without name or address: \(object)")
            }
            let address = String(rawAddress.split(separator: "/").first ?? "")
            let online = object["online"] as? Bool ?? false
            if federated.contains(name) {
                members.append(Member(name: name, node: name, address: address, online: online))
            } else {
                unmapped.append((name, address, online))
            }
        }
        if unmapped.count == 1, !members.contains(where: { $0.node == lab.topology.masterNodeId }) {
            members.append(Member(name: unmapped[0].0, node: lab.topology.masterNodeId, address: unmapped[0].1, online: unmapped[0].2))
        } else if !unmapped.isEmpty {
            throw LabError("cannot map federation members to lab nodes: \(unmapped.map(\.0).joined(separator: ", "))")
        }
        let order = lab.topology.federatedNodes.map(\.id)
        return members.sorted { (order.firstIndex(of: $0.node) ?? 99) < (order.firstIndex(of: $1.node) ?? 99) }
    }

    /// Every member pings every other over the VPN; returns the table and the number of failures.
    static func pingMatrix(lab: Lab, members: [Member]) throws -> (String, Int) {
        var failures = 0
        var rows: [[String]] = []
        for source in members {
            var row = ["\(source.node)\(source.online ? "" : " (offline)")"]
            for target in members {
                if target.node == source.node { row.append("-"); continue }
                let result = try lab.exec(source.node, ["ping", "-n", "-c1", "-W2", target.address], timeout: .seconds(10))
                if result.succeeded {
                    let rtt = result.stdout.range(of: #"time=[0-9.]+ ms"#, options: .regularExpression)
                        .map { String(result.stdout[$0].dropFirst(5)) } ?? "?"
                    row.append("✓ \(rtt)")
                } else {
                    failures += 1
                    row.append("✗")
                }
            }
            rows.append(row)
        }
        let header = ["from \\ to"] + members.map { "\($0.node) \($0.address)" }
        return (renderTable(header, rows), failures)
    }
}
