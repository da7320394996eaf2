import Foundation
import FuseModel

public struct DockerEngine: Sendable {
    public let names: EngineNames
    public let dataRoot: String
    public let cli: DockerCLI
    let runner: any CommandRunning

    public init(names: EngineNames, dataRoot: String, runner: any CommandRunning = HostCommandRunner()) {
        self.names = names
        self.dataRoot = dataRoot
        self.cli = DockerCLI(socket: names.socket, configDirectory: names.runDirectory + "/cli")
        self.runner = runner
    }

    var execRoot: String { names.runDirectory + "/exec" }
    public var pidFile: String { names.runDirectory + "/docker.pid" }
    var configFile: String { names.runDirectory + "/daemon.json" }
    public var logFile: String { dataRoot + ".log" }

    public var pid: pid_t? {
        Daemon.pid(inFile: pidFile)
    }

    public var isRunning: Bool { pid.map(Daemon.isAlive) ?? false }

    /// Starts dockerd unless it runs, and waits until it answers. Returns the PID when it
    /// started one.
    @discardableResult
    public func ensureRunning(subnet: EngineSubnet, insecureRegistry: String, timeout: Duration = .seconds(60)) throws -> pid_t? {
        if isRunning, cli.isResponding { return nil }
        guard let dockerd = Executables.find("dockerd") else { throw SystemError("dockerd is not installed (Debian: apt-get install docker.io)") }
        if let stale = pid, Daemon.isAlive(stale) { Daemon.stop(stale, timeout: .seconds(20)) }
        for directory in [dataRoot, names.runDirectory, cli.configDirectory] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        // Never the host's /etc/docker/daemon.json.
        try Data("{}\n".utf8).write(to: URL(fileURLWithPath: configFile))
        try ensureBridge(names.bridge, address: subnet.bridgeAddress)
        return try Daemon.spawnAndWait([
            dockerd, "--config-file", configFile, "--data-root", dataRoot, "--exec-root", execRoot,
            "-H", "unix://" + names.socket, "--pidfile", pidFile, "--cgroup-parent", names.cgroupParent,
            "--bridge", names.bridge, "--iptables=false", "--ip-masq=false", "--ip-forward=false",
            "--insecure-registry", insecureRegistry, "--log-level", "warn",
        ], logFile: logFile, timeout: timeout) { cli.isResponding }
    }

    private func ensureBridge(_ name: String, address: String) throws {
        let network = HostNetwork(runner: runner)
        if !network.linkExists(name) { try runner.check(["ip", "link", "add", name, "type", "bridge"]) }
        try network.configure(link: name, address: address, mtu: 1500)
    }

    /// Creates the `docker_gwbridge` network (the overlay's way out) on the engine's own bridge
    /// and subnet, before the engine joins a Swarm (which would create it on a shared name).
    public func ensureGatewayBridge(subnet: EngineSubnet) throws {
        if (try? cli.result(["network", "inspect", "docker_gwbridge"]).succeeded) == true { return }
        try cli.run(["network", "create", "--driver", "bridge", "--subnet", subnet.gatewayBridgeCIDR.description,
                     "-o", "com.docker.network.bridge.name=\(names.gatewayBridge)",
                     "-o", "com.docker.network.bridge.enable_icc=false",
                     "-o", "com.docker.network.bridge.enable_ip_masquerade=false",
                     "docker_gwbridge"])
    }

    /// Stops dockerd (which stops its containers and its containerd) and removes what it
    /// had on the host — mounts, run folder, bridges, cgroups — but keeps its data (images,
    /// Swarm membership) for the next start.
    /// dockerd gets `grace` to shut down before it is killed; whatever it started (containerd,
    /// shims) that is left then is killed too.
    public func stop(grace: Duration = .seconds(30)) {
        if let pid, Daemon.isAlive(pid) { Daemon.stop(pid, timeout: grace) }
        let leftovers = Self.processes(using: [names.runDirectory + "/"])
        leftovers.forEach { kill($0, SIGKILL) }
        for _ in 0..<200 where leftovers.contains(where: Daemon.isAlive) { usleep(10_000) }
        for root in [execRoot, dataRoot, names.runDirectory] { Self.unmountAll(under: root) }
        try? FileManager.default.removeItem(atPath: names.runDirectory)
        let parent = (names.runDirectory as NSString).deletingLastPathComponent
        if (try? FileManager.default.contentsOfDirectory(atPath: parent))?.isEmpty == true { try? FileManager.default.removeItem(atPath: parent) }
        let network = HostNetwork(runner: runner)
        for bridge in [names.gatewayBridge, names.bridge] { try? network.deleteLink(bridge) }
        Self.removeCgroups(named: names.cgroupParent)
    }

    /// Leaves the Swarm (best effort), stops the engine and removes its data too.
    public func remove() {
        if isRunning {
            // A worker tells the manager; the manager's Swarm ends with its data, and its leave
            // would wait for a quorum that departed nodes no longer give.
            if (try? cli.run(["info", "--format", "{{.Swarm.ControlAvailable}}"]))?.contains("true") != true {
                _ = try? cli.result(["swarm", "leave", "--force"])
            }
            // Whatever still runs goes now (a drain already moved what could move), rather than
            // after each container's stop timeout during the engine's shutdown.
            let containers = (try? cli.run(["ps", "-aq"]))?.split(separator: "\n").map(String.init) ?? []
            if !containers.isEmpty { _ = try? cli.result(["rm", "-f"] + containers) }
        }
        // Its data goes anyway: no need to wait for a slow shutdown (a manager's Swarm
        // components were seen to take 9 s after a worker had left).
        stop(grace: .seconds(1))
        Self.unmountAll(under: dataRoot)
        try? FileManager.default.removeItem(atPath: dataRoot)
        try? FileManager.default.removeItem(atPath: logFile)
    }

    /// Processes whose command line names a path under one of `folders` (e.g. an engine's
    /// containerd and shims, by its exec root).
    public static func processes(using folders: [String]) -> [pid_t] {
        Daemon.commandLines().filter { process in
            process.pid != getpid() && process.arguments.contains { argument in folders.contains { argument.contains($0) } }
        }.map(\.pid)
    }

    /// Unmounts every mount point under `root`, deepest first.
    public static func unmountAll(under root: String) {
        for point in mountPoints(under: [root]).sorted(by: { $0.count > $1.count }) { _ = umount2(point, Int32(MNT_DETACH)) }
    }

    /// The mount points of this mount namespace at or under one of `roots`, in mount order.
    public static func mountPoints(under roots: [String]) -> [String] {
        let table = ProcFile.text("/proc/self/mountinfo") ?? ""
        return table.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { return nil }
            let point = fields[4].replacingOccurrences(of: "\\040", with: " ")
            return roots.contains { point == $0 || point.hasPrefix($0 + "/") } ? point : nil
        }
    }

    /// Removes the cgroup folder `name` (with its empty children) under every v1 controller and
    /// the unified hierarchy.
    public static func removeCgroups(named name: String) {
        let root = "/sys/fs/cgroup"
        guard let controllers = try? FileManager.default.contentsOfDirectory(atPath: root) else { return }
        for controller in controllers {
            let folder = "\(root)/\(controller)/\(name)"
            guard FileManager.default.fileExists(atPath: folder) else { continue }
            removeCgroupTree(folder)
        }
    }

    private static func removeCgroupTree(_ folder: String) {
        let children = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        for child in children {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: "\(folder)/\(child)", isDirectory: &isDirectory), isDirectory.boolValue {
                removeCgroupTree("\(folder)/\(child)")
            }
        }
        _ = rmdir(folder)
    }

}
