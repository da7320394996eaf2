import ArgumentParser
import Foundation
import FuseModel
import FuseSystem

/// `fuse agent unit` / `fuse master unit`: the systemd unit that `fuse join` / `fuse master start`
/// install on a systemd host, printed (the package ships the ones for the default state dir).
struct UnitPrinting: ParsableArguments {
    @OptionGroup var options: GlobalOptions

    @Option(help: ArgumentHelp("The fuse binary the unit starts (default: this one).", valueName: "path"))
    var executable: String?

    func print(_ role: ServiceUnit.Role) {
        let unit = DaemonUnits.unit(role, options, executable: executable ?? Executables.current)
        if options.json { return Console.json(["name": unit.name, "text": unit.text]) }
        Swift.print(unit.text, terminator: "")
    }
}

struct AgentUnit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unit",
        abstract: "Print the node daemon's systemd unit for this state dir (`fuse join` installs it where systemd runs the host).")

    @OptionGroup var printing: UnitPrinting

    func run() { printing.print(.agent) }
}

struct MasterUnit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unit",
        abstract: "Print the master's systemd unit for this state dir (`fuse master start` installs it where systemd runs the host).")

    @OptionGroup var printing: UnitPrinting

    func run() { printing.print(.master) }
}
