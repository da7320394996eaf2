import ArgumentParser
import Foundation
import FuseAgent
import FuseModel
import FuseSystem

struct ExposeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expose",
        abstract: "Publish one service of a device in this node's LAN to the federation, at this node's VPN address.",
        discussion: """
            Nothing else of the LAN becomes reachable; who may use the service is the federation's \
            policy (`fuse policy`). Example: fuse expose camera --target 192.168.10.11:554 --port 8554
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The exposure's name (unique in the federation; also NAME.DOMAIN.fuse).")
    var name: String

    @Option(help: "The device's address and port in this node's LAN, as IP:PORT.")
    var target: String

    @Option(name: .customLong("proto"), help: "tcp or udp.")
    var proto: String = "tcp"

    @Option(help: "The port at this node's VPN address (default: the target's port).")
    var port: Int?

    @Option(help: "On the master: the node that exposes (default: the master's own node).")
    var node: String?

    func run() async throws {
        try await Console.run {
            let name = try NameRule.label(name, kind: "exposure")
            guard let proto = FlowProtocol(rawValue: proto.lowercased()), proto != .icmp else { throw CommandFailure("bad --proto \(proto): use tcp or udp") }
            let parts = target.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let address = IPv4Address(parts[0]), let targetPort = Int(parts[1]) else {
                throw CommandFailure("bad --target \(target): use IP:PORT, e.g. 192.168.10.11:554")
            }
            let request = API.ExposeRequest(
                name: name, proto: proto, port: try NameRule.port(port ?? targetPort, kind: "exposed"), target: address,
                targetPort: try NameRule.port(targetPort, kind: "target"), node: node)
            let exposure: Exposure
            if options.masterState.exists {
                // The operator, on the master: for the master's own LAN, checked here.
                if node == nil || node?.lowercased() == (try? options.nodeState.loadConfig())?.name.lowercased() {
                    try await Self.checkOnThisHost(address, options: options)
                }
                exposure = try await Clients.with(try await Clients.admin(options)) { try await $0.call("POST", "/v1/exposures", body: request) }
            } else {
                // A node: its daemon checks the target against this host's LAN and asks the master.
                guard node == nil else { throw CommandFailure("--node is for the operator on the master; a node exposes for itself") }
                _ = try options.nodeState.loadConfig()
                exposure = try await options.nodeState.localClient.call(.POST, "/exposures", body: request)
            }
            if options.json { return Console.json(exposure) }
            print("exposed \(exposure.name) (\(exposure.proto.rawValue)) of \(exposure.node) at port \(exposure.port) → \(exposure.target):\(exposure.targetPort); name \(exposure.name).\(exposure.domain).fuse".lowercased())
        }
    }

    /// On the master's own LAN (a node's daemon checks its own).
    static func checkOnThisHost(_ target: IPv4Address, options: GlobalOptions) async throws {
        do {
            try LocalLAN.check(target, interface: (try? options.nodeState.loadConfig())?.interface ?? "", local: try await options.hostPlane.localAddresses())
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}

struct UnexposeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unexpose", abstract: "Withdraw an exposure; it is unreachable everywhere within a second.")

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The exposure's name.")
    var name: String

    func run() async throws {
        try await Console.run {
            let name = try NameRule.label(name, kind: "exposure")
            if options.masterState.exists {
                let _: Data = try await Clients.with(try await Clients.admin(options)) { try await $0.raw("DELETE", "/v1/exposures/\(name)", body: nil, timeout: .seconds(10)) }
            } else {
                _ = try options.nodeState.loadConfig()
                try await options.nodeState.localClient.delete("/exposures/\(name)")
            }
            if options.json { Console.json(["unexposed": name]) } else { print("exposure \(name) withdrawn") }
        }
    }
}

struct ServicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "services", abstract: "List the federation's catalogue of exposed services and who may reach them.")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await Console.run {
            let services: [API.ServiceInfo] = try await Clients.with(try await Clients.any(options)) { try await $0.call("GET", "/v1/services") }
            if options.json { return Console.json(services) }
            print(Console.table(["NAME", "DOMAIN", "NODE", "ADDRESS", "PROTO", "DNS NAME", "ALLOWED FROM"], services.map {
                [$0.name, $0.domain, $0.node, "\($0.address):\($0.port)", $0.proto.rawValue, $0.dnsName,
                 $0.allowedFrom.isEmpty ? "nobody" : $0.allowedFrom.joined(separator: ",")]
            }))
        }
    }
}
