import ArgumentParser
import Foundation
import FuseAgent
import FuseModel
import FuseSystem

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show this node's state and the federation's.")

    @OptionGroup var options: GlobalOptions

    struct Report: Encodable {
        let node: String
        let role: String
        let interface: String
        let address: String?
        let agentRunning: Bool
        let tunnelUp: Bool
        let mapVersion: Int64?
        let lastHandshake: Date?
        let error: String?
        /// "ready" when the node's engine is in the Swarm; nil without workloads.
        let workloads: String?
        let federation: API.Status?
        let masterError: String?
    }

    func run() async throws {
        try await Console.run {
            let state = options.nodeState
            let config = try state.loadConfig()
            // What the node's daemon (on the master: the master process) sees now.
            let status = try? await state.localClient.status()
            let running = status != nil
            var federation: API.Status?
            var masterError: String?
            do {
                federation = try await Clients.with(try await Clients.any(options)) { try await $0.call("GET", "/v1/status", timeout: .seconds(3)) }
            } catch {
                masterError = Console.oneLine(error)
            }
            let report = Report(node: config.name, role: config.isMaster ? "master" : "worker", interface: config.interface,
                                address: status?.address ?? state.cachedMap()?.node.address.description, agentRunning: running,
                                tunnelUp: running && (status?.tunnelUp ?? false), mapVersion: status?.mapVersion,
                                lastHandshake: status?.lastHandshake, error: status?.error, workloads: running ? status?.workloads : nil,
                                federation: federation, masterError: masterError)
            if options.json { return Console.json(report) }
            print("node \(report.node) (\(report.role)) on \(report.interface), VPN address \(report.address ?? "-")")
            print("  agent \(running ? "running" : "NOT running"), tunnel \(report.tunnelUp ? "up" : "DOWN"), map version \(report.mapVersion.map(String.init) ?? "-")")
            if let workloads = report.workloads {
                print("  workloads: \(workloads)\(workloads == "ready" ? " (engine \(EngineNames(interface: config.interface).socket), in the federation's Swarm)" : "")")
            }
            if let error = report.error { print("  last error: \(error)") }
            if let federation {
                print("federation \(federation.federation): \(federation.nodes) nodes, \(federation.online) online, range \(federation.cidr), endpoint \(federation.endpoint):\(federation.apiPort)")
            } else if let masterError {
                print("master unreachable: \(masterError)")
            }
        }
    }
}

struct NodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "nodes", abstract: "List the federation's nodes.")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await Console.run {
            let nodes: [API.NodeInfo] = try await Clients.with(try await Clients.any(options)) { try await $0.call("GET", "/v1/nodes") }
            if options.json { return Console.json(nodes) }
            print(Console.table(["NAME", "DOMAIN", "ADDRESS", "ROLE", "STATE", "LAST SEEN", "WORKLOADS"], nodes.map {
                [$0.name, $0.domain, $0.address.description, $0.isMaster ? "master" : "worker", $0.online ? "online" : "offline",
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
