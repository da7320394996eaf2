import Foundation
import FuseModel

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
