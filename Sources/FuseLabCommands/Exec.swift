import ArgumentParser
import Foundation
import FuseLab
import FuseSystem
#if canImport(Glibc)
import Glibc
#endif

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a command inside a node's network namespace.",
        discussion: """
            Uses 'nsenter --net' (not 'ip netns exec', which remounts /sys). For federated nodes \
            FUSE_STATE_DIR and FUSE_INTERFACE are set. Standard input, output, error and the exit \
            code pass through. Example: fuse-lab exec a1 -- ping -c1 10.10.0.1
            """)

    @OptionGroup var options: PrefixOption
    @Argument(help: "Node id (master, op, a1, cam, b1, b2, store, crisis-r, a-r, b-r, wan) or namespace name.")
    var node: String
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (put '--' before it when it has options).")
    var command: [String] = []

    func run() throws {
        var argv = command
        if argv.first == "--" { argv.removeFirst() }
        guard !argv.isEmpty else { throw LabError("missing command to run in node '\(node)' (usage: fuse-lab exec NODE -- CMD ARGS...)") }
        let lab = try Lab.open(prefix: options.prefix)
        let full = try lab.execArguments(node, argv)
        let environment = ProcessInfo.processInfo.environment.merging(try lab.execEnvironment(node)) { $1 }
        guard let path = Executables.find(full[0]) else { throw LabError("\(full[0]) not found on PATH") }
        let cArgs = full.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        execve(path, cArgs, cEnv)
        throw LabError("cannot run \(path): \(String(cString: strerror(errno)))")
    }
}
