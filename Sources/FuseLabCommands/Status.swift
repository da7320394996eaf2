import ArgumentParser
import Foundation
import FuseLab
import FuseSystem

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the lab's nodes: id, domain, role, namespace, LAN address, interface.")

    @OptionGroup var options: PrefixOption
    @Flag(help: "Print the lab description (nodes, domains, ports, master endpoint) as JSON.")
    var json = false

    func run() throws {
        let lab = try Lab.open(prefix: options.prefix)
        if json {
            printJSON(try lab.descriptionJSON())
            return
        }
        let present = Set((try? HostCommandRunner().check(["ip", "netns", "list"]))?
            .split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) } ?? [])
        let rows = lab.nodes.map { node in
            [node.id, node.domain ?? "-", node.role.rawValue, node.namespace + (present.contains(node.namespace) ? "" : " (missing)"),
             node.lanAddress.map { "\($0)/\(node.lanPrefixLength ?? 24)" } ?? "-",
             node.wanAddress.map { "\($0)/24" } ?? (node.role == .wan ? lab.topology.domains.map(\.wanSideAddress).joined(separator: ",") : "-"),
             node.interface ?? "-"]
        }
        print("lab '\(lab.prefix)': master endpoint \(lab.masterEndpoint) (API tcp/\(lab.apiPort), WireGuard udp/\(lab.wgPort))")
        print(renderTable(["NODE", "DOMAIN", "ROLE", "NAMESPACE", "LAN", "WAN", "INTERFACE"], rows), terminator: "")
    }
}
