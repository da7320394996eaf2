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
