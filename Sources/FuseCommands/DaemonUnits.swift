import Foundation
import FuseModel
import FuseSystem

/// The systemd units of a state dir's daemons: `fuse join` and `fuse master start` install
/// them where systemd runs the host, `fuse leave` and `fuse master stop|destroy` remove them.
enum DaemonUnits {
    static func agent(_ options: GlobalOptions) -> DaemonLaunch { DaemonLaunch(unit: unit(.agent, options)) }
    static func master(_ options: GlobalOptions) -> DaemonLaunch { DaemonLaunch(unit: unit(.master, options)) }

    static func unit(_ role: ServiceUnit.Role, _ options: GlobalOptions, executable: String = Executables.current) -> ServiceUnit {
        let settings = ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("FUSE_") && $0.key != "FUSE_STATE_DIR" }
        return ServiceUnit(role: role, executable: executable, stateDir: absolute(options.stateDir), environment: settings)
    }

    /// The unit names a state dir for good: a relative one is taken from here.
    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}
