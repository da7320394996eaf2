import Foundation
import FuseModel

/// The host's service manager, as far as FUSE uses it: install and enable a unit, start it,
/// and disable and remove it again. Real: systemd (`Systemd`); fake: a recorder in tests.
public protocol ServiceManager: Sendable {
    /// Whether a service manager runs this host (else FUSE starts its daemons itself).
    var runsHost: Bool { get }
    /// Writes the unit (when its text differs), reloads, enables it and starts it.
    func install(_ unit: ServiceUnit) throws
    /// Stops and disables the unit and removes its file; nothing when it is not installed.
    func remove(unitNamed name: String) throws
    func isInstalled(unitNamed name: String) -> Bool
}

/// How a FUSE daemon of one state dir is started: as a systemd unit where systemd runs the
/// host (it then comes back after a crash or a reboot), or as a background process of the
/// command that needs it, as on a host without systemd.
public struct DaemonLaunch: Sendable {
    public let manager: any ServiceManager
    public let unit: ServiceUnit

    public init(manager: any ServiceManager = Systemd(), unit: ServiceUnit) {
        self.manager = manager
        self.unit = unit
    }

    public enum Outcome: Equatable, Sendable {
        /// The unit is installed, enabled and started.
        case unit(String)
        /// The host has no service manager: the caller starts the daemon itself.
        case background
    }

    /// Installs and starts the unit where systemd runs the host; else says `.background`.
    public func start() throws -> Outcome {
        guard manager.runsHost else { return .background }
        try manager.install(unit)
        return .unit(unit.name)
    }

    /// After a leave (or a failed join or start): the unit goes if FUSE installed it.
    public func remove() throws {
        guard manager.isInstalled(unitNamed: unit.name) else { return }
        try manager.remove(unitNamed: unit.name)
    }
}

/// systemd, through `systemctl`; units live in `/etc/systemd/system` (they take precedence
/// over the package's copies in `/lib/systemd/system`, which stay disabled). Requires root.
public struct Systemd: ServiceManager {
    let root: String
    let runner: any CommandRunning

    /// `root` moves every path below it (tests).
    public init(root: String = "/", runner: any CommandRunning = HostCommandRunner(timeout: .seconds(60))) {
        self.root = root
        self.runner = runner
    }

    public var runsHost: Bool { FileManager.default.fileExists(atPath: path("run/systemd/system")) }

    public func unitPath(_ name: String) -> String { path("etc/systemd/system/\(name)") }

    public func install(_ unit: ServiceUnit) throws {
        let file = unitPath(unit.name)
        if (try? String(contentsOfFile: file, encoding: .utf8)) != unit.text {
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try AtomicFile.write(Data(unit.text.utf8), to: file, mode: 0o644)
            try runner.check(["systemctl", "daemon-reload"])
        }
        try runner.check(["systemctl", "enable", "--now", unit.name])
    }

    public func remove(unitNamed name: String) throws {
        // A unit that is already stopped or disabled is fine; the file must go.
        _ = try? runner.run(["systemctl", "disable", "--now", name], input: nil, environment: nil)
        try? FileManager.default.removeItem(atPath: unitPath(name))
        try runner.check(["systemctl", "daemon-reload"])
    }

    public func isInstalled(unitNamed name: String) -> Bool { FileManager.default.fileExists(atPath: unitPath(name)) }

    private func path(_ relative: String) -> String { (root.hasSuffix("/") ? root : root + "/") + relative }
}
