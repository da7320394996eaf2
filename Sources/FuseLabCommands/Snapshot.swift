import ArgumentParser
import Foundation
import FuseLab

struct Snapshot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a deterministic snapshot of a node's namespace (links, addresses, routes, rules, nftables, processes, state files, sysctls).",
        discussion: "Two snapshots taken before 'fuse join' and after 'fuse leave' should be identical.")

    @OptionGroup var options: PrefixOption
    @Argument(help: "Node id or namespace name.")
    var node: String

    func run() throws {
        print(try Lab.open(prefix: options.prefix).snapshot(node), terminator: "")
    }
}
