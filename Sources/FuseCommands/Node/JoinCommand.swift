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
            try Preconditions.root()
            try Preconditions.wireGuardGo()
            if !noWorkloads { try Preconditions.workloads(master: false) }
            let state = options.nodeState
            guard !state.exists, !options.masterState.exists else {
                throw CommandFailure("\(options.stateDir) already belongs to a federation; `fuse leave` first or use another --state-dir")
            }
            guard !HostNetwork().linkExists(interface) else {
                throw CommandFailure("interface \(interface) already exists; choose another with --interface")
            }
            try UserspaceWireGuard(interface: interface).checkNotForeign()
            let clock = StepClock(quiet: options.json)

            clock.begin("contacting the master at \(join.host):\(join.apiPort)")
            let probe = try ControlPlaneClient(host: join.host, port: join.apiPort, caPEM: nil)
            let caPEM = try await Clients.with(probe) { try await $0.fetchCA(pin: join.caPin) }
            clock.done("master's CA matches the pin")

            clock.begin("enrolling as \(name)")
            let key = WireGuardKey.generatePrivate()
            let enrolment = try ControlPlaneClient(host: join.host, port: join.apiPort, caPEM: caPEM)
            let response = try await Clients.with(enrolment) {
                try await $0.join(API.JoinRequest(token: "\(join.tokenID).\(join.secret)", name: name, publicKey: key.publicKey, workloads: !noWorkloads))
            }
            clock.done("enrolled in domain \(response.map.node.domain) with address \(response.map.node.address)")

            let config = NodeConfig(name: name, interface: interface, masterHost: join.host, apiPort: join.apiPort, caPin: join.caPin,
                                    credential: response.credential, privateKey: key, listenPort: nil, isMaster: false)
            do {
                try await bringUp(config: config, caPEM: caPEM, map: response.map, clock: clock)
            } catch {
                // Nothing half-configured: undo the host and deregister.
                NodeTeardown(state: state).all(interface: interface)
                let client = try? ControlPlaneClient(host: join.host, port: join.apiPort, caPEM: caPEM, credential: response.credential)
                if let client { _ = try? await Clients.with(client) { try await $0.leave() } }
                throw error
            }
            let workloads = response.map.node.runsWorkloads
            if !noWorkloads, !workloads { Console.progress("note: this federation runs no workloads; no engine was started") }
            if options.json {
                Console.json(JoinResult(name: name, domain: response.map.node.domain, address: response.map.node.address.description,
                                        interface: interface, workloads: workloads, seconds: clock.total,
                                        steps: clock.steps.map { JoinResult.Step(step: $0.0, seconds: $0.1) }))
            } else {
                print(String(format: "joined federation %@ as %@ (%@) in %.2f s: VPN address %@ on %@",
                             response.map.federation, name, response.map.node.domain, clock.total, response.map.node.address.description, interface))
            }
        }
    }

    private func bringUp(config: NodeConfig, caPEM: String, map: NetworkMap, clock: StepClock) async throws {
        let state = options.nodeState
        try state.createDirectory()
        try StateFile.write(text: caPEM, to: state.caPath)
        try StateFile.write(config, to: state.configPath)
        try StateFile.write(map, to: state.mapPath)

        clock.begin("starting the agent")
        let pid = try Daemon.spawn([Executables.current, "agent", "run", "--state-dir", options.stateDir] + (options.debug ? ["--debug"] : []),
                                   logFile: state.agentLogPath)
        try StateFile.write(text: "\(pid)\n", to: state.agentPIDPath)
        clock.done("agent running (pid \(pid))")

        clock.begin("waiting for the tunnel to carry traffic")
        // Proof of traffic: the control plane answers at the master's VPN address, through the
        // tunnel. Only once the agent has configured the interface: a connection begun before
        // would take the LAN's source address and hang until its connect timeout.
        let overTunnel = try ControlPlaneClient(host: map.masterAddress.description, port: map.apiPort, caPEM: caPEM, connectTimeout: .seconds(1))
        let up = await waitFor(.seconds(timeout), every: .milliseconds(20)) {
            guard Daemon.isAlive(pid) else { return true }
            guard state.status()?.pid == pid else { return false }
            return (try? await overTunnel.health(timeout: .seconds(1))) != nil
        }
        await overTunnel.shutdown()
        guard Daemon.isAlive(pid) else {
            throw CommandFailure("the agent stopped: \(state.status()?.error ?? Daemon.lastLine(of: state.agentLogPath) ?? "see \(state.agentLogPath)")")
        }
        guard up else {
            throw CommandFailure("the tunnel to \(map.masterAddress) carried no traffic within \(timeout) s: \(state.status()?.error ?? "is UDP to the master's WireGuard port blocked?")")
        }
        clock.done("tunnel up: the master answers at \(map.masterAddress)")
        if map.node.runsWorkloads {
            clock.begin("starting the node's engine and joining the Swarm")
            try await Preconditions.workloadsReady(state, pid: pid, timeout: .seconds(timeout))
            clock.done("ready for workloads: engine in the Swarm, labelled \(map.node.domain)/\(map.node.name)")
        }
    }

    struct JoinResult: Encodable {
        struct Step: Encodable {
            let step: String
            let seconds: Double
        }
        let name: String
        let domain: String
        let address: String
        let interface: String
        let workloads: Bool
        let seconds: Double
        let steps: [Step]
    }
}
