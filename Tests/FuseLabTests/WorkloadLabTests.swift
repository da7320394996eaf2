import Foundation
import FuseLab
import FuseModel
import FuseSystem
import Testing

extension LabTests {
    /// Containers on federated devices (the paper's Kubernetes-in-Docker, here every node's own
    /// engine in one Docker Swarm over the VPN). Root only; serial with the other lab suites.
    @Suite("Workload lab", .serialized)
    struct WorkloadLabTests {
        static let page = "hello from companyA's web service"
        static let policy = #"{ "rules": [ { "name": "crisis sees the camera", "from": ["domain:crisis"], "to": ["exposure:camera"] } ] }"#

        /// web in companyA, a client on the master.
        static let webAndClient = """
            version: "3.8"
            services:
              web:
                image: labbox:1
                command: ["httpd", "-f", "-p", "80", "-h", "/www"]
                stop_grace_period: 1s
                x-fuse-domain: companyA
              client:
                image: labbox:1
                command: ["sleep", "86400"]
                stop_grace_period: 1s
                deploy:
                  placement:
                    constraints: ["node.labels.fuse.node == master"]
            """

        /// web in companyA, a client on the master, a probe on each node of companyB.
        static let stack = webAndClient + "\n" + """
              probe:
                image: labbox:1
                command: ["sleep", "86400"]
                stop_grace_period: 1s
                deploy:
                  replicas: 2
                  placement:
                    max_replicas_per_node: 1
                    constraints: ["node.labels.fuse.domain == companyB"]
            """

        /// One HTTP/1.1 request from a lab host (raw, through socat); returns the response, or "" without one.
        static func http(_ fixture: LabFixture, from node: String, host: String, port: Int, _ requestLine: String, body: String = "",
                         contentType: String = "application/octet-stream", headers: [String] = []) throws -> String {
            let head = ["\(requestLine) HTTP/1.1", "Host: \(host):\(port)", "Content-Type: \(contentType)", "Content-Length: \(body.utf8.count)",
                        "Connection: close"] + headers
            let request = head.joined(separator: "\r\n") + "\r\n\r\n" + body
            return try fixture.lab.exec(node, ["socat", "-t", "5", "-", "TCP:\(host):\(port),connect-timeout=3"], input: request, timeout: .seconds(20)).stdout
        }

        /// The content digest the registry gives a tag.
        static func digest(_ fixture: LabFixture, from node: String, host: String, image: String, tag: String) throws -> String {
            let answer = try http(fixture, from: node, host: host, port: 5000, "HEAD /v2/\(image)/manifests/\(tag)", headers: [
                "Accept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json",
            ])
            let header = answer.split(separator: "\r\n").first { $0.lowercased().hasPrefix("docker-content-digest:") }
            return try #require(header.map { $0.dropFirst("docker-content-digest:".count).trimmingCharacters(in: .whitespaces) }, "no digest in \(answer)")
        }

        func tasks(_ fixture: LabFixture, _ stack: String? = nil) throws -> [StackTask] {
            try fixture.json([StackTask].self, try fixture.fuseOK("master", ["ps", "--json"] + (stack.map { [$0] } ?? [])))
        }

        /// A Docker daemon of the host's own on b2 (iptables rules, docker0, a running container),
        /// as a company's device might have; all its objects carry the lab's prefix.
        struct HostDocker {
            let cli: DockerCLI
            let pid: pid_t
            let cgroup: String
            let container: String
        }

        func startHostDocker(_ fixture: LabFixture, image: String) throws -> HostDocker {
            let run = fixture.lab.topology.runDirectory
            let cgroup = fixture.lab.topology.prefix + "hostdocker"
            let pid = try Daemon.spawn(try fixture.lab.execArguments("b2", [
                "dockerd", "--config-file", try fixture.scratchFile("hostdocker.json", "{}"), "--data-root", run + "/hostdocker",
                "--exec-root", run + "/hd", "-H", "unix://\(run)/hd/docker.sock", "--pidfile", run + "/hd/docker.pid", "--cgroup-parent", cgroup,
            ]), logFile: run + "/hostdocker.log")
            let cli = DockerCLI(socket: run + "/hd/docker.sock", configDirectory: run + "/docker-cli")
            do {
                try #require(pollUntil(.seconds(30)) { cli.isResponding }, "the host's own dockerd answers")
                try cli.run(["import", image, "hostbox:1"])
                let container = try cli.run(["run", "-d", "--name", "host-workload", "hostbox:1", "sleep", "86400"]).trimmingCharacters(in: .whitespacesAndNewlines)
                return HostDocker(cli: cli, pid: pid, cgroup: cgroup, container: container)
            } catch {
                // Not yet in the caller's defer: its cgroup would outlive the lab.
                Daemon.stop(pid, timeout: .seconds(20))
                DockerEngine.removeCgroups(named: cgroup)
                throw error
            }
        }

        func stopHostDocker(_ host: HostDocker) {
            _ = try? host.cli.run(["rm", "-f", host.container])
            Daemon.stop(host.pid, timeout: .seconds(20))
            DockerEngine.removeCgroups(named: host.cgroup)
        }

        @Test("a compose deploy lands per domain; containers reach their own LAN, not another domain's; a host's own Docker is untouched; leave drains and leaves no trace")
        func workloadsAcrossDomains() throws {
            let fixture = try LabFixture()
            defer { fixture.close() }
            let image = fixture.lab.topology.runDirectory + "/labbox.tar"
            try LabImage.write(to: image, page: Self.page)
            let host = try startHostDocker(fixture, image: image)
            defer { stopHostDocker(host) }
            let hostRules = try fixture.lab.exec("b2", ["nft", "list", "ruleset"]).stdout
            #expect(hostRules.contains("DOCKER"), "the host's dockerd has its iptables chains (the snapshots compare them)")
            let a1Before = try fixture.lab.snapshot("a1")
            let b2Before = try fixture.lab.snapshot("b2")

            try fixture.startMaster()
            for (node, domain) in [("a1", "companyA"), ("b1", "companyB"), ("b2", "companyB")] {
                let joined = try fixture.join(node, domain: domain)
                Swift.print("\(node) joined and ready for workloads in \(String(format: "%.2f", joined.seconds)) s")
            }
            let nodes = try fixture.nodes()
            #expect(nodes.allSatisfy { $0.workloads }, "every node runs workloads")
            #expect(Set(nodes.compactMap(\.engineSubnet)).count == 4, "every engine has its own subnet: \(nodes.map(\.engineSubnet))")

            // The camera host (non-federated, companyA's LAN) serves a marker.
            let camera = try #require(try fixture.lab.node("cam").lanAddress)
            _ = try Daemon.spawn(try fixture.lab.execArguments("cam", ["socat", "TCP-LISTEN:8080,fork,reuseaddr", "SYSTEM:echo camera-frame"]), logFile: "/dev/null")

            // Images come from the federation's registry, not the internet.
            try fixture.fuseOK("master", ["image", "import", image, "labbox:1"])
            // … and from a Docker engine on a host (here the one on b2, by its socket).
            try fixture.fuseOK("master", ["image", "push", "hostbox:1", "--from", host.cli.socket])
            let images = try fixture.fuseOK("master", ["image", "ls"])
            #expect(images.contains("labbox:1") && images.contains("hostbox:1"), "registry: \(images)")
            #expect(try fixture.fuse("master", ["image", "push", "nosuch:1", "--from", host.cli.socket]).status != 0)

            // Nodes only pull: companyB's worker cannot add, replace or delete an image; the
            // registry's write side listens on the master's loopback only.
            let masterVPN = try #require(try fixture.nodes().first { $0.isMaster }?.address.description)
            let labboxDigest = try Self.digest(fixture, from: "b1", host: masterVPN, image: "labbox", tag: "1")
            #expect(try Self.http(fixture, from: "b1", host: masterVPN, port: 5000, "GET /v2/_catalog").hasPrefix("HTTP/1.1 200"), "nodes can pull")
            for attempt in ["POST /v2/evil/blobs/uploads/", "POST /v2/labbox/blobs/uploads/", "DELETE /v2/labbox/manifests/\(labboxDigest)"] {
                let status = try Self.http(fixture, from: "b1", host: masterVPN, port: 5000, attempt)
                #expect(status.hasPrefix("HTTP/1.1 ") && !status.hasPrefix("HTTP/1.1 2"), "\(attempt) from b1: \(status)")
            }
            let manifest = #"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{},"layers":[]}"#
            let replaced = try Self.http(fixture, from: "b1", host: masterVPN, port: 5000, "PUT /v2/labbox/manifests/1", body: manifest,
                                         contentType: "application/vnd.docker.distribution.manifest.v2+json")
            #expect(replaced.hasPrefix("HTTP/1.1 ") && !replaced.hasPrefix("HTTP/1.1 2"), "manifest PUT from b1: \(replaced)")
            #expect(try Self.http(fixture, from: "b1", host: masterVPN, port: 5001, "GET /v2/").isEmpty, "the push side is not reachable over the VPN")
            #expect(try Self.digest(fixture, from: "b1", host: masterVPN, image: "labbox", tag: "1") == labboxDigest, "the operator's image is unchanged")

            let file = try fixture.scratchFile("stack.yml", Self.stack)
            let started = ContinuousClock.now
            try fixture.fuseOK("master", ["deploy", "-f", file, "--name", "lab"])
            Swift.print("deploy to running tasks on three domains: \(ContinuousClock.now - started)")
            let placed = try tasks(fixture, "lab").filter { $0.state == "running" }
            // Deployed by digest: a tag moved later cannot change what runs.
            let pinned = try fixture.lab.engine("master").run(["service", "inspect", "lab_web", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}"])
            #expect(pinned.trimmingCharacters(in: .whitespacesAndNewlines) == "\(masterVPN):5000/labbox:1@\(labboxDigest)")
            #expect(placed.filter { $0.service == "lab_web" }.map { "\($0.node ?? "")/\($0.domain ?? "")" } == ["a1/companyA"])
            #expect(placed.filter { $0.service == "lab_client" }.map { $0.node ?? "" } == ["master"])
            #expect(Set(placed.filter { $0.service == "lab_probe" }.compactMap(\.node)) == ["b1", "b2"])

            // The master's container fetches the service by name over the federation.
            let fetched = try fixture.lab.execInTask("master", service: "lab_client", ["wget", "-qO-", "http://web/"])
            #expect(fetched.stdout.contains(Self.page), "client → web: \(fetched.stdout) \(fetched.stderr)")
            // A container on A1 reaches its own domain's camera; companyB's containers do not.
            let own = try fixture.lab.execInTask("a1", service: "lab_web", ["nc", "-w", "3", camera, "8080"])
            #expect(own.stdout.contains("camera-frame"), "a1's container → camera: \(own.stdout) \(own.stderr)")
            for node in ["b1", "b2"] {
                let other = try fixture.lab.execInTask(node, service: "lab_probe", ["nc", "-w", "3", camera, "8080"])
                #expect(!other.stdout.contains("camera-frame"), "\(node)'s container reached companyA's camera")
            }
            // Other domains only as the policy allows the container's node: a1 exposes the
            // camera to the crisis domain; the master's container gets a frame, b1's does not.
            let a1Address = try #require(try fixture.nodes().first { $0.name == "a1" }?.address.description)
            try fixture.fuseOK("a1", ["expose", "camera", "--target", "\(camera):8080", "--port", "8554"])
            try fixture.setPolicy(Self.policy)
            let crisis = try fixture.lab.execInTask("master", service: "lab_client", ["nc", "-w", "3", a1Address, "8554"])
            #expect(crisis.stdout.contains("camera-frame"), "master's container → a1's exposure: \(crisis.stdout) \(crisis.stderr)")
            let companyB = try fixture.lab.execInTask("b1", service: "lab_probe", ["nc", "-w", "3", a1Address, "8554"])
            #expect(!companyB.stdout.contains("camera-frame"), "b1's container reached a1's exposure, which the policy denies b1")
            // … while what the policy gives b1 works from its container too (the master's DNS is built in).
            let masterAddress = try #require(try fixture.nodes().first { $0.isMaster }?.address.description)
            let lookup = try fixture.lab.execInTask("b1", service: "lab_probe", ["nslookup", "camera.companya.fuse", masterAddress])
            #expect(lookup.stdout.contains(a1Address), "b1's container asks the federation's DNS: \(lookup.stdout) \(lookup.stderr)")

            // The master stops and starts again: the Swarm, its stacks and the registry's images are kept.
            try fixture.fuseOK("master", ["master", "stop"])
            try fixture.fuseOK("master", ["master", "start"])
            #expect(pollUntil(.seconds(30)) {
                ((try? tasks(fixture, "lab")) ?? []).filter { $0.state == "running" }.count == 4
            }, "the stack runs after the master's restart: \((try? tasks(fixture, "lab")) ?? [])")
            #expect(try fixture.fuseOK("master", ["image", "ls"]).contains("labbox:1"))

            // Bad compose files: a clear one-line error, nothing deployed.
            let stacksBefore = Set(try tasks(fixture).map(\.stack))
            let bad = [
                ("unknown image", "services:\n  x:\n    image: nosuchimage:1\n", "not in the federation's registry"),
                ("bad placement", "services:\n  x:\n    image: labbox:1\n    x-fuse-domain: companyX\n", "unknown domain"),
                ("syntax error", "services:\n  x:\n    image: labbox:1\n   bad: [\n", "line"),
            ]
            for (what, text, message) in bad {
                let result = try fixture.fuse("master", ["deploy", "-f", try fixture.scratchFile("bad.yml", text), "--name", "bad"])
                #expect(result.status != 0, "\(what) deployed")
                #expect(result.stderr.contains(message), "\(what): \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1, "\(what): one line: \(result.stderr)")
            }
            #expect(Set(try tasks(fixture).map(\.stack)) == stacksBefore, "nothing half-deployed")
            #expect(try fixture.fuse("master", ["ps", "bad"]).status != 0)

            // A1 leaves: drained, out of the Swarm, and its host exactly as before the join.
            let a1SwarmID = try fixture.lab.engine("a1").swarmState().nodeID
            try fixture.fuseOK("a1", ["leave"])
            let web = try tasks(fixture, "lab").filter { $0.service == "lab_web" }
            #expect(web.allSatisfy { $0.state != "running" }, "web is reported as not running: \(web)")
            let swarmNodes = try fixture.lab.engine("master").run(["node", "ls", "-q"])
            #expect(a1SwarmID != nil && !swarmNodes.contains(a1SwarmID ?? "?"), "a1 is out of the Swarm: \(swarmNodes)")
            try fixture.expectUnchanged("a1", since: a1Before)

            // A device that only exposes services runs no engine.
            try fixture.fuseOK("a1", ["join", try fixture.token(domain: "companyA"), "--name", "a1", "--no-workloads"])
            #expect(try fixture.nodes().first { $0.name == "a1" }?.workloads == false)
            let processes = try fixture.lab.snapshot("a1")
            #expect(!processes.contains("dockerd"), "no engine on a node without workloads")
            let placement = try fixture.fuse("master", ["deploy", "-f", try fixture.scratchFile("a1.yml", "services:\n  x:\n    image: labbox:1\n    x-fuse-node: a1\n"), "--name", "a1only"])
            #expect(placement.status != 0 && placement.stderr.contains("unknown node"), "deploy to a node without workloads: \(placement.stderr)")
            try fixture.fuseOK("a1", ["leave"])

            // B2 leaves: the host's own Docker, its container and its rules are as they were.
            try fixture.fuseOK("b2", ["leave"])
            try fixture.expectUnchanged("b2", since: b2Before)
            #expect(Daemon.isAlive(host.pid), "the host's dockerd still runs")
            #expect(try host.cli.run(["inspect", "--format", "{{.State.Running}}", host.container]).contains("true"))

            try fixture.fuseOK("master", ["undeploy", "lab"])
            #expect(try tasks(fixture).isEmpty)
            let stackContainers = ["ps", "-aq", "--filter", "label=\(SwarmStacks.stackLabel)=lab"]
            #expect(try fixture.lab.engine("master").run(stackContainers).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "no container of the stack left on the master")
            #expect(pollUntil(.seconds(15)) {
                (try? fixture.lab.engine("b1").run(stackContainers).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty) == true
            }, "b1 removed the stack's containers")
        }
    }
}
