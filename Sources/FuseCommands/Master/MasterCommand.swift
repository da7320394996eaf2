import ArgumentParser
import Foundation
import FuseAgent
import FuseControl
import FuseModel
import FuseSystem
import Logging
import ServiceLifecycle

struct MasterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "master",
        abstract: "Create, start, stop and destroy the federation's master.",
        subcommands: [MasterInit.self, MasterStart.self, MasterRun.self, MasterStop.self, MasterDestroy.self])
}

struct MasterInit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a federation: its CA, store, settings and the master's own node.")

    @OptionGroup var options: GlobalOptions

    @Option(help: "The federation's name.")
    var name: String

    @Option(help: "Address (IPv4 or DNS name) at which nodes reach the master's API and WireGuard ports.")
    var endpoint: String

    @Option(help: "The federation's VPN address range; the master takes its first address.")
    var vpnCidr: String = "100.64.0.0/16"

    @Option(help: "TCP port of the control plane's HTTPS API.")
    var apiPort: Int = 7443

    @Option(help: "UDP port of the master's WireGuard hub.")
    var wgPort: Int = 51820

    @Option(help: "The master's domain (default: the federation's name).")
    var domain: String?

    @Option(help: "The master's node name.")
    var nodeName: String = "master"

    @Option(help: "WireGuard interface name (env FUSE_INTERFACE).")
    var interface: String = ProcessInfo.processInfo.environment["FUSE_INTERFACE"] ?? "fuse0"

    func run() async throws {
        try await Console.run {
            let federation = try NameRule.label(name, kind: "federation")
            let config = MasterConfig(
                federation: federation, domain: try NameRule.label(domain ?? federation, kind: "domain"),
                nodeName: try NameRule.label(nodeName, kind: "node"), endpoint: try NameRule.host(endpoint),
                cidr: try IPv4CIDR(parsing: vpnCidr), apiPort: try NameRule.port(apiPort, kind: "API"),
                wireGuardPort: try NameRule.port(wgPort, kind: "WireGuard"), interface: try NameRule.interface(interface),
                adminCredentialDigest: "")
            _ = try AddressAllocator(cidr: config.cidr)
            let nodeState = options.nodeState
            guard !nodeState.exists else {
                throw CommandFailure("\(options.stateDir) already holds a node of a federation; use another --state-dir or `fuse leave` first")
            }
            guard !options.masterState.exists else {
                throw CommandFailure("a federation master already exists in \(options.stateDir); `fuse master destroy` it first")
            }
            let key = WireGuardKey.generatePrivate()
            do {
                // The node folder first: it records whether the state dir is ours to remove.
                try nodeState.createDirectory()
                try options.masterState.initialize(config: config, masterPublicKey: key.publicKey)
                try FileManager.default.copyItem(atPath: options.masterState.caPath, toPath: nodeState.caPath)
                try StateFile.write(NodeConfig(
                    name: config.nodeName, interface: config.interface, masterHost: "127.0.0.1", apiPort: config.apiPort,
                    caPin: try options.masterState.caPin(), credential: nil, privateKey: key, listenPort: config.wireGuardPort,
                    isMaster: true), to: nodeState.configPath)
            } catch {
                options.masterState.removeAll()
                NodeTeardown(state: nodeState).removeFiles()
                throw error
            }
            let pin = try options.masterState.caPin()
            if options.json {
                Console.json(InitResult(federation: config.federation, cidr: config.cidr, endpoint: config.endpoint, apiPort: config.apiPort,
                                        wireGuardPort: config.wireGuardPort, masterAddress: config.cidr.firstHost?.description ?? "", caPin: pin))
            } else {
                print("federation \(config.federation) created in \(options.stateDir)")
                print("  VPN range \(config.cidr), master \(config.nodeName) at \(config.cidr.firstHost?.description ?? "")")
                print("  endpoint \(config.endpoint), API port \(config.apiPort)/tcp, WireGuard port \(config.wireGuardPort)/udp")
                print("  CA pin sha256:\(pin)")
                print("next: fuse master start")
            }
        }
    }

    struct InitResult: Encodable {
        let federation: String
        let cidr: IPv4CIDR
        let endpoint: String
        let apiPort: UInt16
        let wireGuardPort: UInt16
        let masterAddress: String
        let caPin: String
    }
}

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
            let client = try ControlPlaneClient(host: "127.0.0.1", port: config.apiPort, caPEM: try state.caPEM())
            let ready = await waitFor(.seconds(timeout)) {
                guard Daemon.isAlive(pid) else { return true }
                return (try? await client.health(timeout: .seconds(1))) != nil
            }
            await client.shutdown()
            guard ready, Daemon.isAlive(pid) else {
                Daemon.stop(pid)
                NodeTeardown(state: options.nodeState).removeHostObjects(interface: config.interface)
                throw CommandFailure("the master did not start: \(state.lastLogLine() ?? "no log")")
            }
            clock.done("control plane up")
            clock.begin("bringing up the hub \(config.interface)")
            let hubUp = await waitFor(.seconds(timeout)) {
                guard let status = options.nodeState.status() else { return false }
                return status.pid == pid && status.tunnelUp
            }
            guard hubUp else {
                let reason = options.nodeState.status()?.error ?? state.lastLogLine() ?? "timed out"
                Daemon.stop(pid)
                NodeTeardown(state: options.nodeState).removeHostObjects(interface: config.interface)
                throw CommandFailure("the hub did not come up: \(reason)")
            }
            clock.done("hub up")
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

/// The master process: control plane + the master's own agent, in the foreground.
struct MasterRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the control plane and the master's node in the foreground (for systemd and tests).")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await Console.run {
            let state = options.masterState
            let config = try state.loadConfig()
            try Preconditions.root()
            LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
            let logger = options.logger("fuse.master", daemon: true)
            let store = try SQLiteFederationStore(path: state.databasePath)
            let controlPlane = try ControlPlane(config: config, store: store, caPEM: try state.caPEM(), caPin: try state.caPin(), logger: logger)
            try StateFile.write(text: "\(getpid())\n", to: state.pidPath)
            let agent = try Agent(state: options.nodeState, source: LocalMapSource(controlPlane: controlPlane, node: config.nodeName),
                                  logger: options.logger("fuse.agent", daemon: true))
            logger.info("control plane starting", metadata: ["port": "\(config.apiPort)", "federation": "\(config.federation)"])
            try await MasterServer.run(state: state, controlPlane: controlPlane, services: [
                AgentService(agent: agent), LongPollCloser(controlPlane: controlPlane),
                DNSService(controlPlane: controlPlane, address: config.cidr.firstHost?.description ?? "127.0.0.1", logger: logger),
            ], logger: logger) {}
        }
    }
}

/// The master's agent takes its map straight from the control plane in the same process.
struct LocalMapSource: MapSource {
    let controlPlane: ControlPlane
    let node: String

    func map(since: Int64, wait: Int) async throws -> NetworkMap {
        try await controlPlane.map(for: node, since: since, wait: .seconds(wait))
    }

    func heartbeat(_ beat: API.Heartbeat) async throws {
        await controlPlane.heartbeat(node, appliedVersion: beat.mapVersion)
    }

    func applied(version: Int64) async {
        await controlPlane.hubApplied(version: version)
    }
}

/// Answers `NAME.DOMAIN.fuse` on the master's VPN address, port 53, once the hub has it.
struct DNSService: Service {
    let controlPlane: ControlPlane
    let address: String
    let logger: Logger

    func run() async throws {
        let responder = DNSResponder(host: address, port: 53, resolve: { controlPlane.resolve($0) })
        do {
            try await cancelWhenGracefulShutdown {
                var logged = false
                while !Task.isCancelled {
                    do {
                        try await responder.run { _ in logger.info("DNS responder listening", metadata: ["address": "\(address):53"]) }
                        return
                    } catch {
                        // The hub's address appears when the agent has configured the interface.
                        if !logged { logger.debug("DNS responder waiting for \(address)", metadata: ["error": "\(error)"]) }
                        logged = true
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
            }
        } catch is CancellationError {}
    }
}

/// On shutdown, ends the long-polls so that the server stops at once.
struct LongPollCloser: Service {
    let controlPlane: ControlPlane

    func run() async throws {
        try? await gracefulShutdown()
        await controlPlane.closeLongPolls()
    }
}

struct AgentService: Service {
    let agent: Agent

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await agent.run() }
        } catch is CancellationError {}
    }
}

struct MasterStop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop the control plane and the hub; the federation's state is kept for `fuse master start`.")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await Console.run {
            let config = try options.masterState.loadConfig()
            try Preconditions.root()
            let wasRunning = options.masterState.stop()
            NodeTeardown(state: options.nodeState).removeHostObjects(interface: config.interface)
            if options.json { Console.json(["stopped": wasRunning]) } else { print(wasRunning ? "master stopped" : "master was not running") }
        }
    }
}

struct MasterDestroy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "destroy",
        abstract: "The master's leave: stop everything and remove every trace of the federation from this host.")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await Console.run {
            let clock = StepClock(quiet: true)
            let config = try options.masterState.loadConfig()
            try Preconditions.root()
            _ = options.masterState.stop()
            options.masterState.removeAll()
            NodeTeardown(state: options.nodeState).all(interface: config.interface)
            if options.json {
                Console.json(["destroyed": config.federation, "seconds": String(format: "%.3f", clock.total)])
            } else {
                print(String(format: "federation %@ destroyed in %.2f s; nothing of it is left on this host", config.federation, clock.total))
            }
        }
    }
}

extension MasterState {
    func pidOfRunningMaster() -> pid_t? {
        guard let text = try? String(contentsOfFile: pidPath, encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), Daemon.isAlive(pid),
              let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
              String(decoding: cmdline, as: UTF8.self).contains("master\0run")
        else { return nil }
        return pid
    }

    /// Stops the master process; returns whether it was running.
    func stop() -> Bool {
        guard let pid = pidOfRunningMaster() else { return false }
        Daemon.stop(pid, timeout: .seconds(5))
        try? FileManager.default.removeItem(atPath: pidPath)
        return true
    }

    func lastLogLine() -> String? {
        (try? String(contentsOfFile: logPath, encoding: .utf8))?.split(separator: "\n").last.map(String.init)
    }
}
