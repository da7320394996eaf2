import ArgumentParser
import Foundation
import FuseLab

struct Down: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tear a lab down: kill its processes, delete its namespaces, WireGuard sockets and run directory.",
        discussion: "Works without lab.json (finds namespaces by prefix), after a crash, and when nothing is left (idempotent).")

    @OptionGroup var options: PrefixOption
    @Flag(help: "Print what was removed as JSON.")
    var json = false

    func run() throws {
        let report = try Lab.down(prefix: options.prefix)
        if json {
            let object: [String: Any] = [
                "prefix": options.prefix, "namespaces": report.namespaces,
                "killedProcesses": report.killedProcesses.map(Int.init), "sockets": report.sockets,
                "removedRunDirectory": report.removedRunDirectory, "problems": report.problems,
            ]
            printJSON(try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]))
        } else if report.isEmpty && report.problems.isEmpty {
            print("no lab with prefix '\(options.prefix)': nothing to remove")
        } else {
            print("lab '\(options.prefix)' down: \(report.namespaces.count) namespaces, \(report.killedProcesses.count) processes, \(report.sockets.count) sockets removed")
        }
        if !report.problems.isEmpty {
            throw LabError("incomplete teardown: \(report.problems.joined(separator: "; "))")
        }
    }
}
