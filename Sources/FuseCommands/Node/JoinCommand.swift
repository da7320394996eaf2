import ArgumentParser
import Foundation
import FuseAgent
import FuseModel
import FuseSystem

struct JoinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join",
        abstract: "Join a federation: enrol with a join string, start the agent, return when the tunnel carries traffic and the node is ready for workloads.",
        discussion: """
            Pass `-` as the join string to read it from stdin (keeps the secret out of the process list).
            Unless --no-workloads, the node runs a Docker engine of its own (own data root, socket, bridges \
            and cgroup parent; any Docker the host runs is left alone) that joins the federation's Swarm \
            over the node's VPN address; it needs Debian's docker.io.
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The join string printed by `fuse token create`, or - to read it from stdin.")
    var joinString: String

    @Option(help: "This node's name in the federation.")
    var name: String

    @Option(help: "WireGuard interface name (env FUSE_INTERFACE).")
    var interface: String = ProcessInfo.processInfo.environment["FUSE_INTERFACE"] ?? "fuse0"

    @Option(help: "Seconds to wait for the tunnel (and then for the engine to join the Swarm).")
    var timeout: Int = 120

    @Flag(help: "Run no container engine here (a device that only exposes services).")
    var noWorkloads = false

    func run() async throws {
        try await Console.run {
            let raw = joinString == "-" ? (readLine() ?? "") : joinString
            let join = try JoinString(parsing: raw)
            let name = try NameRule.label(name, kind: "node")
            let interface = try NameRule.interface(interface)
            guard (1...3600).contains(timeout) else { throw CommandFailure("bad --timeout \(timeout): use 1 to 3600 seconds") }
            // The node's daemon reads it (it inherits this environment).
            _ = try PathChoice(environment: ProcessInfo.processInfo.environment["FUSE_PATH"])
            try Preconditions.root()
            try Preconditions.wireGuardGo()
            if !noWorkloads { try Preconditions.workloads(master: false) }
            let state = options.nodeState
            guard !options.masterState.exists else {
                throw CommandFailure("\(options.stateDir) holds this federation's master; use another --state-dir for a node")
            }
            if let config = try? state.loadConfig() {
                throw CommandFailure("\(options.stateDir) already belongs to a federation (this host is node \(config.name)); `fuse leave` first or use another --state-dir")
            }
            // The node's daemon does the join and streams its steps.
            let request = LocalAPI.JoinRequest(joinString: join.description, name: name, interface: interface, workloads: !noWorkloads, timeoutSeconds: timeout)
            let (result, _) = try await NodeDaemons.run(options, "/join", body: request, timeout: .seconds(Int64(timeout) * 2 + 120), as: LocalAPI.JoinResult.self)
            if options.json { return Console.json(result) }
            print(String(format: "joined federation %@ as %@ (%@) in %.2f s: VPN address %@ on %@",
                         result.federation, name, result.domain, result.seconds, result.address, interface))
        }
    }
}
