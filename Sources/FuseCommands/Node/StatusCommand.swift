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
        /// `direct` or `relay` (workers).
        let path: TunnelPath?
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
                                tunnelUp: running && (status?.tunnelUp ?? false), path: running ? status?.path : nil, mapVersion: status?.mapVersion,
                                lastHandshake: status?.lastHandshake, error: status?.error, workloads: running ? status?.workloads : nil,
                                federation: federation, masterError: masterError)
            if options.json { return Console.json(report) }
            print("node \(report.node) (\(report.role)) on \(report.interface), VPN address \(report.address ?? "-")")
            print("  agent \(running ? "running" : "NOT running"), tunnel \(report.tunnelUp ? "up" : "DOWN")\(report.path.map { " (\($0.rawValue))" } ?? ""), map version \(report.mapVersion.map(String.init) ?? "-")")
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
