import Foundation
import FuseModel
import FuseSystem
#if canImport(Glibc)
import Glibc
#endif

/// What `Lab.down` removed.
public struct LabTeardown: Sendable, Equatable {
    public var namespaces: [String] = []
    public var killedProcesses: [Int32] = []
    public var sockets: [String] = []
    public var removedRunDirectory = false
    public var problems: [String] = []
    public var isEmpty: Bool { namespaces.isEmpty && killedProcesses.isEmpty && sockets.isEmpty && !removedRunDirectory }
}

/// A running lab: the topology applied to this machine with network namespaces.
/// Requires root. Everything it creates carries the lab's prefix: namespaces, WireGuard
/// interface names (and so wireguard-go's sockets), `/run/fuse-lab/PREFIX`.
public struct Lab: Sendable {
    public let topology: LabTopology
    let runner: any CommandRunning

    public init(topology: LabTopology, runner: any CommandRunning = HostCommandRunner()) {
        self.topology = topology
        self.runner = runner
    }

    public var prefix: String { topology.prefix }
    public var masterEndpoint: String { topology.masterEndpoint }
    public var apiPort: Int { topology.apiPort }
    public var wgPort: Int { topology.wgPort }
    public var nodes: [LabNode] { topology.nodes }

    /// The node with this id (`master`, `a1`, `crisis-r`, ...) or namespace name.
    public func node(_ id: String) throws -> LabNode {
        guard let node = topology.node(id) else {
            throw LabError("no node '\(id)' in lab '\(prefix)'; nodes: \(topology.nodes.map(\.id).joined(separator: ", "))")
        }
        return node
    }

    /// Changes what a domain's router lets out of its LAN (`fuse-lab egress`).
    public func setEgress(_ egress: LabEgress, domain name: String) throws {
        guard let domain = topology.domain(name), let command = topology.egressCommand(egress, of: domain) else {
            throw LabError("no domain '\(name)' in lab '\(prefix)'; domains: \(topology.domains.map(\.name).joined(separator: ", "))")
        }
        let result = try runner.run(command.argv, input: command.input, environment: nil)
        guard result.succeeded else { throw LabError("cannot set the egress of \(name): \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))") }
    }

    // MARK: - Up

    /// Builds the standard lab. Fails if a lab with this prefix exists; on any failure midway it
    /// tears down what it made before throwing.
    public static func up(
        prefix: String = LabAddressPlan.defaultPrefix,
        apiPort: Int = LabAddressPlan.defaultAPIPort,
        wgPort: Int = LabAddressPlan.defaultWireGuardPort,
        udpBlockedDomain: Bool = false
    ) throws -> Lab {
        let topology = try LabTopology.standard(prefix: prefix, apiPort: apiPort, wgPort: wgPort, udpBlockedDomain: udpBlockedDomain)
        return try up(topology)
    }

    public static func up(_ topology: LabTopology, runner: any CommandRunning = HostCommandRunner()) throws -> Lab {
        try requireRoot()
        for tool in ["ip", "nft", "nsenter", "sysctl"] where Executables.find(tool) == nil {
            throw LabError("\(tool) not found on PATH (install iproute2, nftables, util-linux, procps)")
        }
        let prefix = topology.prefix
        let existing = try namespaceList(runner: runner)
        let others = otherLabs(than: prefix)
        let clash = existing.filter { belongs($0, prefix: prefix, others: others) || topology.namespaces.contains($0) }
        if !clash.isEmpty || FileManager.default.fileExists(atPath: topology.runDirectory) {
            throw LabError("a lab with prefix '\(prefix)' exists (\(clash.isEmpty ? topology.runDirectory : "namespaces " + clash.joined(separator: ", "))); run 'fuse-lab down --prefix \(prefix)' first")
        }
        let sockets = topology.interfaceNames.map { "\(LabAddressPlan.wireGuardSocketRoot)/\($0).sock" }
            .filter { FileManager.default.fileExists(atPath: $0) }
        if !sockets.isEmpty {
            throw LabError("WireGuard sockets of this lab's interface names exist (\(sockets.joined(separator: ", "))); run 'fuse-lab down --prefix \(prefix)' first")
        }
        let lab = Lab(topology: topology, runner: runner)
        do {
            try FileManager.default.createDirectory(atPath: topology.runDirectory, withIntermediateDirectories: true)
            for node in topology.federatedNodes {
                if let dir = node.stateDir {
                    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                }
            }
            let result = try runner.run(["sh", "-c", renderShellScript(topology.setupCommands())], input: nil, environment: nil)
            if !result.succeeded {
                let lines = result.stderr.split(whereSeparator: \.isNewline).map(String.init)
                let step = lines.last { $0.hasPrefix("failed: ") }.map { String($0.dropFirst("failed: ".count)) } ?? "setup script"
                let detail = lines.filter { !$0.hasPrefix("failed: ") }.joined(separator: "; ")
                throw LabError("\(step) failed\(detail.isEmpty ? "" : ": " + detail)")
            }
            try lab.writeDescription()
        } catch {
            let teardown = try? down(prefix: prefix, runner: runner)
            let leftovers = teardown.map { $0.problems.isEmpty ? "" : " (clean-up problems: \($0.problems.joined(separator: "; ")))" } ?? ""
            throw LabError("lab up failed and was torn down: \(oneLine(error))\(leftovers)")
        }
        return lab
    }

    /// The lab described in `/run/fuse-lab/PREFIX/lab.json`.
    public static func open(prefix: String = LabAddressPlan.defaultPrefix) throws -> Lab {
        try LabTopology.validate(prefix: prefix)
        let path = "\(LabAddressPlan.runRoot)/\(prefix)/lab.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LabError("no lab with prefix '\(prefix)' (\(path) not found); run 'fuse-lab up --prefix \(prefix)'")
        }
        do {
            return Lab(topology: try JSONDecoder().decode(LabTopology.self, from: data))
        } catch {
            throw LabError("cannot read \(path): \(error)")
        }
    }

    /// The lab description as JSON (what `lab.json` holds).
    public func descriptionJSON() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(topology)
    }

    func writeDescription() throws {
        try descriptionJSON().write(to: URL(fileURLWithPath: topology.descriptionFile), options: .atomic)
    }

    // MARK: - Down

    /// Tears this lab down (best effort, never throws; see `down(prefix:)`).
    public func down() {
        _ = try? Lab.down(prefix: prefix, runner: runner)
    }

    /// Tears down every lab object with this prefix, whether or not `lab.json` exists: kills the
    /// processes in the namespaces (SIGTERM, then SIGKILL), deletes the namespaces, removes
    /// wireguard-go sockets `/var/run/wireguard/PREFIX*.sock` and `/run/fuse-lab/PREFIX`.
    /// Objects of another lab whose prefix starts with this one (known by its lab.json) are
    /// left alone. Idempotent.
    @discardableResult
    public static func down(prefix: String = LabAddressPlan.defaultPrefix, runner: any CommandRunning = HostCommandRunner()) throws -> LabTeardown {
        try LabTopology.validate(prefix: prefix)
        try requireRoot()
        var report = LabTeardown()
        let others = otherLabs(than: prefix)
        let namespaces = try namespaceList(runner: runner).filter { belongs($0, prefix: prefix, others: others) }

        let me = getpid()
        // FUSE's own processes first (agents, the master): else an agent would start its
        // engine again while it is being stopped.
        let agents = namespacePIDs(namespaces, runner: runner).filter { pid in
            pid != me && Daemon.name(of: pid) == "fuse"
        }
        agents.forEach { kill($0, SIGTERM) }
        if !pollUntil(.seconds(5), { agents.allSatisfy { !Daemon.isAlive($0) } }) {
            agents.filter(Daemon.isAlive).forEach { kill($0, SIGKILL) }
            _ = pollUntil(.seconds(2)) { agents.allSatisfy { !Daemon.isAlive($0) } }
        }

        // Then the nodes' engines, gently: dockerd stops its containers and containerd and
        // unmounts what it mounted.
        let engineRoot = (EngineNames(interface: "x").runDirectory as NSString).deletingLastPathComponent
        let engines = ((try? FileManager.default.contentsOfDirectory(atPath: engineRoot)) ?? []).filter { belongs($0, prefix: prefix, others: others) }
        let engineDaemons = engines.compactMap { engine in
            Daemon.pid(inFile: "\(engineRoot)/\(engine)/docker.pid")
        }.filter(Daemon.isAlive)
        engineDaemons.forEach { kill($0, SIGTERM) }
        _ = pollUntil(.seconds(20)) { engineDaemons.allSatisfy { !Daemon.isAlive($0) } }

        // Kill every process in the lab's namespaces, all at once, then wait for them to go;
        // also any process started with the lab's folders (one whose namespace went already).
        // Again until none is left: a dying process may have started another meanwhile.
        let folders = ["\(LabAddressPlan.runRoot)/\(prefix)/"] + engines.map { "\(engineRoot)/\($0)/" }
        for _ in 0..<5 {
            let pids = Array(Set(namespacePIDs(namespaces, runner: runner) + DockerEngine.processes(using: folders)))
                .filter { $0 != me && Daemon.isAlive($0) }
            if pids.isEmpty { break }
            for pid in pids { kill(pid, SIGTERM) }
            if !pollUntil(.seconds(3), { pids.allSatisfy { !Daemon.isAlive($0) } }) {
                for pid in pids where Daemon.isAlive(pid) { kill(pid, SIGKILL) }
                _ = pollUntil(.seconds(2)) { pids.allSatisfy { !Daemon.isAlive($0) } }
            }
            for pid in pids {
                var status: Int32 = 0
                _ = waitpid(pid, &status, WNOHANG)  // reap our own children (e.g. from Lab.exec)
            }
            report.killedProcesses += pids
            for pid in pids where Daemon.isAlive(pid) { report.problems.append("process \(pid) survived SIGKILL") }
        }
        if !namespaces.isEmpty {
            // One script for all deletions (see renderShellScript on why); it goes on after a failure.
            let script = namespaces.map { "ip netns delete \(shellQuote($0))" }.joined(separator: "\n")
            let result = try? runner.run(["sh", "-c", script], input: nil, environment: nil)
            let left = Set(try namespaceList(runner: runner))
            report.namespaces = namespaces.filter { !left.contains($0) }
            for namespace in namespaces where left.contains(namespace) {
                report.problems.append("cannot delete namespace \(namespace)\(result.map { $0.stderr.isEmpty ? "" : ": " + oneLine(SystemError($0.stderr)) } ?? "")")
            }
        }

        // wireguard-go's UAPI sockets live in one global directory.
        let socketRoot = LabAddressPlan.wireGuardSocketRoot
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: socketRoot)) ?? []
        for entry in entries.sorted() where entry.hasSuffix(".sock") {
            let name = String(entry.dropLast(".sock".count))
            guard belongs(name, prefix: prefix, others: others) else { continue }
            do {
                try FileManager.default.removeItem(atPath: "\(socketRoot)/\(entry)")
                report.sockets.append("\(socketRoot)/\(entry)")
            } catch {
                report.problems.append("cannot remove \(socketRoot)/\(entry): \(error.localizedDescription)")
            }
        }

        // What engines leave when they are killed: mounts, run folders, cgroups.
        let runDirectory = "\(LabAddressPlan.runRoot)/\(prefix)"
        DockerEngine.unmountAll(under: runDirectory)
        for engine in engines {
            DockerEngine.unmountAll(under: "\(engineRoot)/\(engine)")
            try? FileManager.default.removeItem(atPath: "\(engineRoot)/\(engine)")
            DockerEngine.removeCgroups(named: EngineNames(interface: engine).cgroupParent)
        }
        for directory in [engineRoot, "/run/containerd/s", "/run/containerd"] where (try? FileManager.default.contentsOfDirectory(atPath: directory))?.isEmpty == true {
            _ = rmdir(directory)
        }
        if FileManager.default.fileExists(atPath: runDirectory) {
            do {
                do { try FileManager.default.removeItem(atPath: runDirectory) } catch {
                    // A container's mount may still have been going away: once more.
                    usleep(500_000)
                    DockerEngine.unmountAll(under: runDirectory)
                    try FileManager.default.removeItem(atPath: runDirectory)
                }
                report.removedRunDirectory = true
            } catch {
                report.problems.append("cannot remove \(runDirectory): \(error.localizedDescription)")
            }
        }
        // Leave /run/fuse-lab as it was before the first lab: gone when no lab is left.
        // rmdir(2), not removeItem: it fails rather than delete a lab that another process is
        // creating right now.
        _ = rmdir(LabAddressPlan.runRoot)
        return report
    }

    // MARK: - Exec

    /// argv that runs `argv` in the node's network namespace (shared by the CLI and `exec`).
    public func execArguments(_ node: String, _ argv: [String]) throws -> [String] {
        guard !argv.isEmpty else { throw LabError("no command given") }
        return nsenterArguments(namespace: try self.node(node).namespace) + argv
    }

    /// The environment for a command in the node: `FUSE_STATE_DIR` and `FUSE_INTERFACE` for
    /// federated nodes, then `extra`.
    public func execEnvironment(_ node: String, _ extra: [String: String] = [:]) throws -> [String: String] {
        try self.node(node).fuseEnvironment.merging(extra) { $1 }
    }

    /// Runs `argv` in the node's network namespace and captures its output. After `timeout`
    /// the command's process group is killed and the status is 124.
    public func exec(_ node: String, _ argv: [String], environment: [String: String] = [:], input: String? = nil, timeout: Duration? = nil) throws -> CommandResult {
        let full = try execArguments(node, argv)
        return try HostCommandRunner(timeout: timeout).run(full, input: input, environment: try execEnvironment(node, environment))
    }

    // MARK: - Helpers

    static func requireRoot() throws {
        guard geteuid() == 0 else { throw LabError("the lab needs root (network namespaces); run as root") }
    }

    /// Names from `ip netns list` ("NAME" or "NAME (id: N)").
    static func namespaceList(runner: any CommandRunning) throws -> [String] {
        try runner.check(["ip", "netns", "list"]).split(separator: "\n").compactMap { line in
            line.split(separator: " ").first.map(String.init)
        }
    }

    /// PIDs of the processes in these namespaces (one process for all of them).
    static func namespacePIDs(_ namespaces: [String], runner: any CommandRunning) -> [pid_t] {
        guard !namespaces.isEmpty else { return [] }
        let script = namespaces.map { "ip netns pids \(shellQuote($0)) 2>/dev/null" }.joined(separator: "\n") + "\ntrue"
        guard let out = try? runner.check(["sh", "-c", script]) else { return [] }
        return out.split(whereSeparator: \.isWhitespace).compactMap { pid_t($0) }
    }

    /// Other labs on this machine that a prefix match could reach: their prefixes and exact
    /// names (from their lab.json).
    struct OtherLabs {
        var prefixes: [String] = []
        var names: Set<String> = []
    }

    static func otherLabs(than prefix: String) -> OtherLabs {
        var others = OtherLabs()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: LabAddressPlan.runRoot)) ?? []
        for entry in entries where entry != prefix {
            if entry.hasPrefix(prefix) { others.prefixes.append(entry) }
            if let data = FileManager.default.contents(atPath: "\(LabAddressPlan.runRoot)/\(entry)/lab.json"),
               let topology = try? JSONDecoder().decode(LabTopology.self, from: data) {
                others.names.formUnion(topology.namespaces)
                others.names.formUnion(topology.interfaceNames)
            }
        }
        return others
    }

    static func belongs(_ name: String, prefix: String, others: OtherLabs) -> Bool {
        name.hasPrefix(prefix) && !others.names.contains(name) && !others.prefixes.contains { name.hasPrefix($0) }
    }
}


