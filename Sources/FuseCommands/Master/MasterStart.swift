import ArgumentParser
import Foundation
import FuseAgent
import FuseControl
import FuseModel
import FuseSystem
import Logging
import ServiceLifecycle

struct MasterStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start the control plane and the master's node (the WireGuard hub) in the background.")

    @OptionGroup var options: GlobalOptions

    @Option(help: "Seconds to wait for the master to become ready.")
    var timeout: Int = 30

    func run() async throws {
        try await Console.run {
            let state = options.masterState
            let config = try state.loadConfig()
            try Preconditions.root()
            try Preconditions.wireGuardGo()
            if config.engineCIDR != nil { try Preconditions.workloads(master: true) }
            let clock = StepClock(quiet: options.json)
            if let pid = state.pidOfRunningMaster() {
                throw CommandFailure("the master is already running (pid \(pid))")
            }
            guard PortProbe.isFree(config.apiPort, .tcp) else {
                throw CommandFailure("API port \(config.apiPort)/tcp is in use; free it or create the federation with another --api-port")
            }
            try UserspaceWireGuard(interface: config.interface).checkNotForeign()
            let hubRunning = UserspaceWireGuard(interface: config.interface).isResponding
            guard hubRunning || PortProbe.isFree(config.wireGuardPort, .udp) else {
                throw CommandFailure("WireGuard port \(config.wireGuardPort)/udp is in use; free it or create the federation with another --wg-port")
            }
            guard hubRunning || !HostNetwork().linkExists(config.interface) else {
                throw CommandFailure("interface \(config.interface) already exists and is not FUSE's; choose another --interface at init")
            }
            clock.begin("starting control plane")
            let pid = try Daemon.spawn([Executables.current, "master", "run", "--state-dir", options.stateDir] + (options.debug ? ["--debug"] : []),
                                       logFile: state.logPath)
            // Nothing half-started: a master that does not come up is stopped and its host objects go.
            func fail(_ reason: String) async -> CommandFailure {
                Daemon.stop(pid)
                await options.hostPlane.tearDown(interface: config.interface, TeardownScope(keepEngineData: true, registry: true))
                return CommandFailure(reason)
            }
            let client = try ControlPlaneClient(host: "127.0.0.1", port: config.apiPort, caPEM: try state.caPEM())
            let ready = await waitFor(.seconds(timeout)) {
                guard Daemon.isAlive(pid) else { return true }
                return (try? await client.health(timeout: .seconds(1))) != nil
            }
            await client.shutdown()
            guard ready, Daemon.isAlive(pid) else { throw await fail("the master did not start: \(state.lastLogLine() ?? "no log")") }
            clock.done("control plane up")
            // The master's own node reports through its local API, as every node's daemon does.
            let local = options.nodeState.localClient
            clock.begin("bringing up the hub \(config.interface)")
            let hubUp = await waitFor(.seconds(timeout)) { (try? await local.status())?.tunnelUp == true || !Daemon.isAlive(pid) }
            guard hubUp, Daemon.isAlive(pid) else {
                throw await fail("the hub did not come up: \((try? await local.status())?.error ?? state.lastLogLine() ?? "timed out")")
            }
            clock.done("hub up")
            if config.engineCIDR != nil {
                clock.begin("starting the engine, the Swarm manager and the image registry")
                let workloads = await waitFor(.seconds(timeout)) { (try? await local.status())?.workloads == "ready" || !Daemon.isAlive(pid) }
                guard workloads, Daemon.isAlive(pid) else {
                    throw await fail("the node's engine did not join the Swarm within \(timeout) seconds: \((try? await local.status())?.workloads ?? "the master stopped")")
                }
                clock.done("Swarm manager and registry at \(config.cidr.firstHost?.description ?? ""):\(SwarmPorts.manager)/\(SwarmPorts.registry)")
            }
            let address = config.cidr.firstHost?.description ?? ""
            if options.json {
                Console.json(StartResult(pid: pid, address: address, apiURL: "https://\(config.endpoint):\(config.apiPort)", seconds: clock.total))
            } else {
                print(String(format: "master ready in %.2f s: pid %d, VPN address %@, API https://%@:%d", clock.total, pid, address, config.endpoint, config.apiPort))
            }
        }
    }

    struct StartResult: Encodable {
        let pid: Int32
        let address: String
        let apiURL: String
        let seconds: Double
    }
}
