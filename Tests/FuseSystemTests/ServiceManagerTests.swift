import Foundation
import FuseModel
import FuseSystem
import Testing

/// Records the commands it is given and answers each with success.
final class RecordingRunner: CommandRunning, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [[String]] = []
    var commands: [[String]] { lock.withLock { recorded } }

    func run(_ argv: [String], input: String?, environment: [String: String]?) throws -> CommandResult {
        lock.withLock { recorded.append(argv) }
        return CommandResult(status: 0, stdout: "", stderr: "")
    }
}

/// A service manager that only records what it was asked.
final class FakeServiceManager: ServiceManager, @unchecked Sendable {
    let runsHost: Bool
    private let lock = NSLock()
    private var units: [String: String] = [:]
    private(set) var calls: [String] = []

    init(runsHost: Bool) { self.runsHost = runsHost }

    func install(_ unit: ServiceUnit) throws { lock.withLock { units[unit.name] = unit.text; calls.append("install \(unit.name)") } }
    func remove(unitNamed name: String) throws { lock.withLock { units[name] = nil; calls.append("remove \(name)") } }
    func isInstalled(unitNamed name: String) -> Bool { lock.withLock { units[name] != nil } }
}

@Suite struct ServiceManagerTests {
    let unit = ServiceUnit(role: .agent, executable: "/usr/bin/fuse", stateDir: "/var/lib/fuse")

    @Test func withoutSystemdTheDaemonRunsInTheBackgroundAndNothingIsInstalled() throws {
        let manager = FakeServiceManager(runsHost: false)
        let launch = DaemonLaunch(manager: manager, unit: unit)
        #expect(try launch.start() == .background)
        try launch.remove()
        #expect(manager.calls.isEmpty)
    }

    @Test func withSystemdTheUnitIsInstalledAndRemovedOnce() throws {
        let manager = FakeServiceManager(runsHost: true)
        let launch = DaemonLaunch(manager: manager, unit: unit)
        #expect(try launch.start() == .unit("fuse-agent.service"))
        #expect(manager.isInstalled(unitNamed: "fuse-agent.service"))
        try launch.remove()
        try launch.remove()
        #expect(manager.calls == ["install fuse-agent.service", "remove fuse-agent.service"])
    }

    @Test func systemdWritesTheUnitEnablesItAndRemovesExactlyIt() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fuse-systemd-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let runner = RecordingRunner()
        let systemd = Systemd(root: root, runner: runner)
        #expect(!systemd.runsHost)
        try FileManager.default.createDirectory(atPath: root + "/run/systemd/system", withIntermediateDirectories: true)
        #expect(systemd.runsHost)

        try systemd.install(unit)
        let path = root + "/etc/systemd/system/fuse-agent.service"
        #expect(try String(contentsOfFile: path, encoding: .utf8) == unit.text)
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) == 0o644)
        // The same unit again: no reload, only enable (a no-op for systemd when it is enabled).
        try systemd.install(unit)
        #expect(runner.commands == [["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", "fuse-agent.service"],
                                    ["systemctl", "enable", "--now", "fuse-agent.service"]])
        try systemd.remove(unitNamed: unit.name)
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(Array(runner.commands.suffix(2)) == [["systemctl", "disable", "--now", "fuse-agent.service"], ["systemctl", "daemon-reload"]])
    }

    /// systemd's own check of both units (Debian's `systemd` package; no running systemd needed).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CI"] == "true" || Executables.find("systemd-analyze") != nil,
                   "systemd-analyze is missing (apt-get install systemd)"))
    func systemdAcceptsBothUnits() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fuse-units-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for role in [ServiceUnit.Role.agent, .master] {
            // The executable must exist for systemd-analyze; /bin/sh stands in for fuse.
            let unit = ServiceUnit(role: role, executable: "/bin/sh", stateDir: "/var/lib/fuse", environment: ["FUSE_WIREGUARD": "userspace"])
            let path = directory + "/" + unit.name
            try unit.text.write(toFile: path, atomically: true, encoding: .utf8)
            let result = try HostCommandRunner(timeout: .seconds(60)).run(["systemd-analyze", "verify", "--man=no", path], input: nil, environment: nil)
            #expect(result.status == 0, "\(unit.name): \(result.stderr)")
            // Warnings (an unknown key, a bad value) leave the status 0: none may be printed.
            #expect(result.stderr.isEmpty && result.stdout.isEmpty, "\(unit.name): \(result.stdout)\(result.stderr)")
        }
    }
}
