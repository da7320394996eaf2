import Foundation
import FuseModel

/// The `docker` command-line client, pointed at one engine's socket and with a configuration
/// folder of its own (never the host user's credentials).
public struct DockerCLI: Sendable {
    public let executable: String
    public let socket: String
    public let configDirectory: String
    let runner: HostCommandRunner

    public init(socket: String, configDirectory: String, timeout: Duration = .seconds(120)) {
        self.executable = Self.locate() ?? "docker"  // fails with a clear error when run
        self.socket = socket
        self.configDirectory = configDirectory
        self.runner = HostCommandRunner(timeout: timeout)
    }

    /// `FUSE_DOCKER`, else the client that comes with Debian's engine, else `docker` on PATH.
    public static func locate() -> String? {
        if let path = ProcessInfo.processInfo.environment["FUSE_DOCKER"] { return Executables.find(path) }
        return Executables.find("/usr/bin/docker") ?? Executables.find("docker")
    }

    public func argv(_ arguments: [String]) -> [String] {
        [executable, "--config", configDirectory, "-H", "unix://" + socket] + arguments
    }

    public func result(_ arguments: [String], input: String? = nil) throws -> CommandResult {
        try runner.run(argv(arguments), input: input, environment: nil)
    }

    /// Runs a docker command; throws with docker's own message when it fails.
    @discardableResult
    public func run(_ arguments: [String], input: String? = nil) throws -> String {
        let result = try result(arguments, input: input)
        guard result.succeeded else {
            let message = result.stderr.split(separator: "\n").last.map(String.init) ?? "exit \(result.status)"
            throw SystemError("docker \(arguments.first ?? ""): \(message.trimmingCharacters(in: .whitespaces))")
        }
        return result.stdout
    }

    /// Whether the engine answers.
    public var isResponding: Bool {
        (try? result(["version", "--format", "{{.Server.Version}}"]).succeeded) ?? false
    }

    /// The engine's Swarm state: `inactive`, `pending`, `active`, `error`, `locked`, with the
    /// node's Swarm ID when it has one.
    public func swarmState() throws -> (state: String, nodeID: String?) {
        let text = try run(["info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}}"])
        let parts = text.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        return (parts.first ?? "inactive", parts.count > 1 ? parts[1] : nil)
    }
}

/// A node's own Docker engine, isolated from any Docker the host already runs: its own data
/// root (under the node's state dir), exec root, socket, PID file, configuration file, cgroup
/// parent and bridges; it never touches iptables (the node's nftables table masquerades its
/// containers) and never turns on IP forwarding itself. Requires root and Debian's `docker.io`.
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

/// The federation's image registry on the master (Debian's `docker-registry`, distribution
/// 2.8), as two processes over one storage folder under the master's state dir:
/// - the *pull* side on the master's VPN address, read-only (`maintenance: readonly`), which
///   nodes' engines pull from through the tunnel;
/// - the *push* side on the master's loopback only, which the operator's `fuse image
///   import|push` writes through. No node can add or replace an image.
public struct ImageRegistry: Sendable {
    public let directory: String
    /// `VPN_ADDRESS:5000`.
    public let pullAddress: String
    /// `127.0.0.1:5001`.
    public let pushAddress: String

    public init(directory: String, pullAddress: String, pushAddress: String = SwarmPorts.registryPushHost) {
        self.directory = directory
        self.pullAddress = pullAddress
        self.pushAddress = pushAddress
    }

    /// One registry process.
    struct Side {
        let name: String
        let address: String
        let readOnly: Bool
    }

    var sides: [Side] {
        [Side(name: "registry", address: pullAddress, readOnly: true), Side(name: "registry-push", address: pushAddress, readOnly: false)]
    }

    var dataDirectory: String { directory + "/data" }
    func configFile(_ side: Side) -> String { "\(directory)/\(side.name).yml" }
    func pidFile(_ side: Side) -> String { "\(directory)/\(side.name).pid" }
    func logFile(_ side: Side) -> String { "\(directory)/\(side.name).log" }

    /// The PIDs of the running sides.
    public var pids: [pid_t] {
        sides.compactMap { Daemon.pid(inFile: pidFile($0)) }.filter(Daemon.isAlive)
    }

    /// Distribution's read-only mode: pulls only; no uploads to purge.
    static let readOnlyMaintenance = """
          maintenance:
            uploadpurging:
              enabled: false
            readonly:
              enabled: true

        """

    /// The configuration of one side (distribution's YAML).
    static func config(_ side: Side, dataDirectory: String) -> String {
        """
        version: 0.1
        log:
          level: warn
          accesslog:
            disabled: true
        storage:
          filesystem:
            rootdirectory: \(dataDirectory)
          delete:
            enabled: \(!side.readOnly)
        \(side.readOnly ? Self.readOnlyMaintenance : "")http:
          addr: \(side.address)

        """
    }

    /// Starts each side unless it runs; waits until it listens. Returns the PIDs it started.
    @discardableResult
    public func ensureRunning(timeout: Duration = .seconds(20)) throws -> [pid_t] {
        guard let program = Executables.find("docker-registry") else {
            throw SystemError("docker-registry is not installed (Debian: apt-get install docker-registry)")
        }
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var started: [pid_t] = []
        for side in sides {
            if let pid = Daemon.pid(inFile: pidFile(side)), Daemon.isAlive(pid) { continue }
            try Data(Self.config(side, dataDirectory: dataDirectory).utf8).write(to: URL(fileURLWithPath: configFile(side)), options: .atomic)
            let parts = side.address.split(separator: ":")
            let pid = try Daemon.spawnAndWait([program, "serve", configFile(side)], logFile: logFile(side), timeout: timeout) {
                parts.count == 2 && UInt16(parts[1]).map { PortProbe.tcpOpen(host: String(parts[0]), port: $0) } == true
            }
            try Data("\(pid)\n".utf8).write(to: URL(fileURLWithPath: pidFile(side)), options: .atomic)
            started.append(pid)
        }
        return started
    }

    public func stop() {
        for side in sides {
            if let pid = Daemon.pid(inFile: pidFile(side)) { Daemon.stop(pid) }
            try? FileManager.default.removeItem(atPath: pidFile(side))
        }
    }
}
