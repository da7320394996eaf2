import ArgumentParser
import Foundation
import FuseLab
import FuseSystem

/// `fuse-lab`: builds the paper's Fig. 1 on this machine with network namespaces.
public struct FuseLabCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "fuse-lab",
        abstract: "Build and drive a FUSE lab: the paper's Fig. 1 on network namespaces (requires root).",
        discussion: """
            A lab is a WAN namespace and three domains behind NAT routers whose firewalls admit \
            nothing from the WAN: crisis (master, operator PC; the router publishes the master's \
            API and WireGuard ports), companyA (worker a1, camera) and companyB (workers b1, b2, \
            data store); with 'up --udp-blocked-domain' also companyC (worker c1, sensor), whose router lets \
            no UDP out. Every object carries the lab's name prefix (default 'fl-'), so several \
            labs can coexist and 'down' never touches anything else.
            """,
        subcommands: [Up.self, Down.self, Exec.self, Status.self, Snapshot.self, Impair.self, ImpairForward.self, Egress.self, Demo.self, Bench.self, Camera.self])

    public init() {}

    /// Parses the command line and runs it; errors are one line on stderr and a non-zero exit.
    public static func entry() -> Never {
        do {
            var command = try parseAsRoot()
            try command.run()
            Foundation.exit(0)
        } catch let error as LabError {
            fail(error.message)
        } catch let error as SystemError {
            fail(oneLine(error))
        } catch {
            exit(withError: error)
        }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("fuse-lab: error: \(message)\n".utf8))
        Foundation.exit(1)
    }
}

/// The lab name prefix, shared by every subcommand.
struct PrefixOption: ParsableArguments {
    @Option(name: .long, help: "Name prefix of the lab's namespaces and interfaces (1–6 of a-z, 0-9, '-').")
    var prefix: String = LabAddressPlan.defaultPrefix
}

/// The federation a lab command brings up: the master's ports and the fuse binary.
struct FederationOptions: ParsableArguments {
    @Option(name: .customLong("api-port"), help: "TCP port of the master's API.")
    var apiPort: Int = LabAddressPlan.defaultAPIPort
    @Option(name: .customLong("wg-port"), help: "UDP port of the master's WireGuard.")
    var wgPort: Int = LabAddressPlan.defaultWireGuardPort
    @Option(help: "The fuse binary (default: 'fuse' next to this fuse-lab executable).")
    var fuse: String?

    func fusePath() throws -> String {
        let path = fuse ?? (URL(fileURLWithPath: Executables.current).deletingLastPathComponent().path + "/fuse")
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw LabError("fuse binary not found at \(path); build it or pass --fuse PATH")
        }
        return path
    }
}

func printJSON(_ data: Data) {
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}

/// A plain text table with left-aligned columns.
func renderTable(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { row in
        row.indices.map { column in
            column == row.count - 1 ? row[column] : row[column].padding(toLength: widths[column], withPad: " ", startingAt: 0)
        }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }.joined(separator: "\n") + "\n"
}
