import Foundation
import FuseModel
import FuseSystem

/// A node's identity and settings (`node.json`, mode 0600: it holds the WireGuard private key
/// and the node's credential).
public struct NodeConfig: Codable, Equatable, Sendable {
    public var name: String
    public var interface: String
    public var masterHost: String
    public var apiPort: UInt16
    public var caPin: String
    /// `NAME.SECRET` for the control plane's API; nil on the master, whose agent runs in-process.
    public var credential: String?
    public var privateKey: WireGuardKey
    /// The hub listens on a fixed port; workers let WireGuard pick one.
    public var listenPort: UInt16?
    public var isMaster: Bool

    public init(name: String, interface: String, masterHost: String, apiPort: UInt16, caPin: String, credential: String?, privateKey: WireGuardKey, listenPort: UInt16?, isMaster: Bool) {
        self.name = name
        self.interface = interface
        self.masterHost = masterHost
        self.apiPort = apiPort
        self.caPin = caPin
        self.credential = credential
        self.privateKey = privateKey
        self.listenPort = listenPort
        self.isMaster = isMaster
    }
}

/// What FUSE changed on the host besides its own objects, so that leave can undo exactly that.
public struct HostChanges: Codable, Equatable, Sendable {
    /// The value of net.ipv4.ip_forward before the hub turned it on.
    public var ipForwardBefore: String?
    /// Whether FUSE created /var/run/wireguard.
    public var createdRunDirectory: Bool = false
    /// Whether FUSE created the state dir itself (else only its `node/` folder is removed).
    public var createdStateDir: Bool = false
    /// Whether FUSE's engine was the first to create /run/containerd.
    public var createdContainerdDirectory: Bool = false
    public init() {}
}

/// A join in flight: written before the enrolment request, so that a retry after a crash
/// sends the same key and request id and completes the same enrolment.
public struct PendingEnrolment: Codable, Equatable, Sendable {
    public let tokenID: String
    public let name: String
    public let requestID: String
    public let privateKey: WireGuardKey
}

/// What the agent last saw, for `fuse status` and for `fuse join` to wait on.
public struct AgentStatus: Codable, Sendable {
    public var pid: Int32
    public var mapVersion: Int64
    /// The last map version applied to the host without error.
    public var appliedVersion: Int64
    public var address: String
    public var tunnelUp: Bool
    public var lastHandshake: Date?
    public var updatedAt: Date
    public var masterReachable: Bool
    public var error: String?
    /// "ready" when the node's engine is in the federation's Swarm, else what it waits for;
    /// nil when the node runs no workloads.
    public var workloads: String?
    public var node: String
    public var interface: String
    public var isMaster: Bool
    /// A worker's path to the hub: `direct` or `relay` (nil on the master, or from an older daemon).
    public var path: TunnelPath?
}

/// The files of a node under `STATE_DIR/node/`.
public struct NodeState: Sendable {
    public let root: String
    public var directory: String { root + "/node" }

    public init(stateDir: String) { root = stateDir }

    public var configPath: String { directory + "/node.json" }
    public var caPath: String { directory + "/ca.pem" }
    public var mapPath: String { directory + "/map.json" }
    public var hostChangesPath: String { directory + "/host.json" }
    public var agentPIDPath: String { directory + "/agent.pid" }
    public var agentLogPath: String { directory + "/agent.log" }
    public var wireGuardPIDPath: String { directory + "/wireguard.pid" }
    public var wireGuardLogPath: String { directory + "/wireguard.log" }
    /// Held by the node daemon while it runs: one daemon per state dir.
    public var lockPath: String { directory + "/agent.lock" }
    /// A join in flight (key and request id), written before the enrolment request.
    public var pendingEnrolmentPath: String { directory + "/enrolment.json" }

    /// The daemon's local API. A unix socket path has at most 107 bytes: a deep state dir gets
    /// one under /run/fuse named by the state dir's digest.
    public var agentSocketPath: String {
        let path = directory + "/agent.sock"
        return path.utf8.count <= 100 ? path : "/run/fuse/agent-\(Secret.sha256Hex(Array(root.utf8)).prefix(16)).sock"
    }

    public var localClient: LocalClient { LocalClient(socket: agentSocketPath) }

    public var exists: Bool { FileManager.default.fileExists(atPath: configPath) }

    public func loadConfig() throws -> NodeConfig {
        guard exists else { throw SystemError("this host is not in a federation (no \(configPath)); run `fuse join` first") }
        return try StateFile.read(NodeConfig.self, from: configPath)
    }

    public func cachedMap() -> NetworkMap? { try? StateFile.read(NetworkMap.self, from: mapPath) }
    public func hostChanges() -> HostChanges { (try? StateFile.read(HostChanges.self, from: hostChangesPath)) ?? HostChanges() }
    public func caPEM() throws -> String { try String(contentsOfFile: caPath, encoding: .utf8) }

    public func pid(at path: String) -> pid_t? {
        Daemon.pid(inFile: path)
    }

    /// Creates `node/` (and the state dir when missing, which leave then removes again).
    public func createDirectory() throws {
        let createdRoot = !FileManager.default.fileExists(atPath: root)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var changes = hostChanges()
        changes.createdStateDir = createdRoot || changes.createdStateDir
        try StateFile.write(changes, to: hostChangesPath)
    }
}

/// Small JSON and text files written atomically with owner-only permissions.
public enum StateFile {
    public static func write(_ value: some Encodable, to path: String) throws {
        let encoder = API.prettyEncoder()
        try write(data: try encoder.encode(value), to: path)
    }

    public static func write(text: String, to path: String) throws {
        try write(data: Data(text.utf8), to: path)
    }

    static func write(data: Data, to path: String) throws {
        try AtomicFile.write(data, to: path)
    }

    public static func read<T: Decodable>(_ type: T.Type, from path: String) throws -> T {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw SystemError("cannot read \(path): \(error.localizedDescription)")
        }
        do { return try API.decoder().decode(type, from: data) } catch {
            throw SystemError("\(path) is damaged: \(error)")
        }
    }
}
