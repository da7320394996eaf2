import ArgumentParser
import Foundation
import FuseAgent
import FuseModel
import FuseSystem

struct NodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "nodes", abstract: "List the federation's nodes.")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await Console.run {
            let nodes: [API.NodeInfo] = try await Clients.with(try await Clients.any(options)) { try await $0.call("GET", "/v1/nodes") }
            if options.json { return Console.json(nodes) }
            print(Console.table(["NAME", "DOMAIN", "ADDRESS", "ROLE", "STATE", "PATH", "LAST SEEN", "WORKLOADS"], nodes.map {
                [$0.name, $0.domain, $0.address.description, $0.isMaster ? "master" : "worker", $0.online ? "online" : "offline", $0.path?.rawValue ?? "-",
                 $0.lastSeen.map { String(format: "%.0fs ago", Date().timeIntervalSince($0)) } ?? "-", $0.engineSubnet?.description ?? "-"]
            }))
        }
    }
}

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "node", abstract: "Manage one node.", subcommands: [NodeRemove.self])
}

struct NodeRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove a node from the federation (on the master): its credential stops working and its peer is dropped everywhere.")

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The node's name.")
    var name: String

    func run() async throws {
        try await Console.run {
            let name = try NameRule.label(name, kind: "node")
            let _: Data = try await Clients.with(try await Clients.admin(options)) { try await $0.raw("DELETE", "/v1/nodes/\(name)", body: nil, timeout: .seconds(10)) }
            if options.json { Console.json(["removed": name]) } else { print("node \(name) removed") }
        }
    }
}
