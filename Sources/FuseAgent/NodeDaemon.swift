import Foundation
import FuseModel
import FuseSystem
import Logging

/// The node daemon (`fuse agent run`): the one process that changes the host and the one owner
/// of enrolment, reconcile and teardown. It holds the state dir's lock, serves the local API on
/// its unix socket, and — once the node is in a federation — runs the reconcile loop (`Agent`).
/// `fuse join`, `leave`, `status`, `expose` and `unexpose` are its clients.
///
/// A daemon that is not (or no longer) in a federation exits once its last answer is written:
/// after a leave, after a failed join, or when nobody asked it to join within a minute.
public actor NodeDaemon: LocalAPIHandler {
    let state: NodeState
    let host: any HostPlane
    let logger: Logger
    private var agent: Agent?
    private var agentTask: Task<Void, Never>?
    /// "join" or "leave" while one runs.
    private var operation: String?
    private var client: ControlPlaneClient?
    /// Where and as whom `client` calls (a moved master or a new credential needs a new one).
    private var clientIdentity: String?
    private var retired: [ControlPlaneClient] = []
    /// Yields when the daemon has nothing left to own and should end.
    private let exits: AsyncStream<Void>
    private let exitSignal: AsyncStream<Void>.Continuation

    public init(state: NodeState, host: any HostPlane, logger: Logger) {
        self.state = state
        self.host = host
        self.logger = logger
        (exits, exitSignal) = AsyncStream<Void>.makeStream()
    }

    /// Runs until the node leaves (or is removed), a join fails, or the task is cancelled.
    public func run() async throws {
        try state.createDirectory()
        let lock: ExclusiveLock
        do { lock = try ExclusiveLock(path: state.lockPath) } catch {
            let other = state.pid(at: state.agentPIDPath).map { " (pid \($0))" } ?? ""
            throw SystemError("another FUSE agent runs for \(state.root)\(other)")
        }
        try StateFile.write(text: "\(getpid())\n", to: state.agentPIDPath)
        if state.exists { try startAgent() }
        let socket = state.agentSocketPath
        try FileManager.default.createDirectory(atPath: (socket as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        // Each child says whether its end is the daemon's: the server's (it ends only with an
        // error) and an exit's are; the idle check's is not.
        let exits = self.exits
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await LocalAPIServer.run(socket: socket, handler: self, logger: self.logger)
                return true
            }
            group.addTask {
                for await _ in exits { break }
                return true
            }
            group.addTask {
                // Started for a join that never came (its client died): nothing to own.
                try await Task.sleep(for: .seconds(60))
                await self.exitIfNothingToOwn()
                return false
            }
            while let ends = try await group.next(), !ends {}
            group.cancelAll()
        }
        await stopAgent()
        await shutdownClients()
        if !state.exists { unlink(socket) }
        withExtendedLifetime(lock) {}
    }

    private func requestExit() {
        exitSignal.yield()
    }

    /// Not in a federation and no operation running: the daemon ends.
    private func exitIfNothingToOwn() {
        if agent == nil, operation == nil { requestExit() }
    }

    public func delivered() async {
        exitIfNothingToOwn()
    }

    // MARK: The reconcile loop

    /// - Parameter moved: the master moved since this node last spoke to it.
    private func startAgent(moved: Bool = false) throws {
        let config = try state.loadConfig()
        let client = try masterClient(config)
        // The relay's own connection: a stream that lasts, beside the calls of `client`.
        let relayClient = try ControlPlaneClient(host: config.masterHost, port: config.apiPort, caPEM: try state.caPEM(), credential: config.credential,
                                                 readTimeout: .seconds(60), maxConnections: 1)
        retired.append(relayClient)
        let choice = try PathChoice(environment: ProcessInfo.processInfo.environment["FUSE_PATH"])
        let relay = RelayLink(transport: relayClient, probing: !choice.forced, logger: logger)
        let agent = try Agent(state: state, source: RemoteMapSource(client: client), host: host, logger: logger,
                              masterMoved: { host in await self.followMaster(to: host) }, freshSessionOnFirstAnswer: moved,
                              relay: relay, pathChoice: choice)
        self.agent = agent
        agentTask = Task {
            do { try await agent.run() } catch is CancellationError {} catch {
                self.logger.error("the agent stopped", metadata: ["error": "\(error)"])
            }
            // Removed from the federation (the agent removed everything), or cancelled.
            await self.agentEnded()
        }
    }

    private func agentEnded() {
        guard operation == nil, agent != nil else { return }
        if !state.exists {
            agent = nil
            requestExit()
        }
    }

    private func stopAgent() async {
        let task = agentTask
        agentTask = nil
        agent = nil
        task?.cancel()
        await task?.value
    }

    /// The master's endpoint changed (`fuse master set-endpoint`): the node looks for the
    /// control plane there from now on, with the same credential (no re-join).
    private func followMaster(to host: String) {
        guard var config = try? state.loadConfig(), !config.isMaster, config.masterHost != host else { return }
        let old = config.masterHost
        config.masterHost = host
        do { try StateFile.write(config, to: state.configPath) } catch {
            logger.error("cannot record the master's new endpoint; still looking for it at the old one", metadata: ["error": "\(error)"])
            return
        }
        logger.notice("the master's endpoint changed; following it", metadata: ["from": "\(old)", "to": "\(host)"])
        // The loop that told us restarts with a client for the new endpoint; not from within its own call.
        Task { await self.restartAgentForMovedMaster() }
    }

    private func restartAgentForMovedMaster() async {
        guard operation == nil, agent != nil else { return }
        await stopAgent()
        do { try startAgent(moved: true) } catch { logger.error("cannot restart the agent", metadata: ["error": "\(error)"]) }
    }

    public func status() async -> AgentStatus? {
        await agent?.status()
    }

    // MARK: Join

    public func join(_ request: LocalAPI.JoinRequest, steps: Steps) async throws -> LocalAPI.JoinResult {
        if state.exists, let config = try? state.loadConfig() {
            throw LocalAPIError(409, "this host is already node \(config.name) of a federation (state dir \(state.root)); `fuse leave` first or use another --state-dir")
        }
        guard operation == nil else { throw LocalAPIError(409, "a \(operation ?? "join") is already in progress for \(state.root)") }
        operation = "join"
        defer { operation = nil }
        let join: JoinString
        do { join = try JoinString(parsing: request.joinString) } catch { throw LocalAPIError(400, "\(error)") }
        let name: String, interface: String
        do {
            name = try NameRule.label(request.name, kind: "node")
            interface = try NameRule.interface(request.interface)
        } catch { throw LocalAPIError(400, "\(error)") }
        do {
            return try await enrolAndBringUp(join: join, name: name, interface: interface, workloads: request.workloads,
                                             timeout: .seconds(max(1, request.timeoutSeconds)), steps: steps)
        } catch {
            // Nothing half-configured, in order: the loop stops, the master forgets the node (and
            // drops its Swarm node), the host is cleaned.
            await stopAgent()
            if let enrolled = try? state.loadConfig(), let client = try? masterClient(enrolled) {
                _ = try? await client.leave()
            }
            await NodeTeardown(state: state, host: host).all(interface: interface)
            throw error
        }
    }

    private func enrolAndBringUp(join: JoinString, name: String, interface: String, workloads: Bool, timeout: Duration,
                                 steps: Steps) async throws -> LocalAPI.JoinResult {
        do { try await host.checkAvailable(interface: interface) } catch let taken as InterfaceTaken { throw LocalAPIError(409, taken.description) }

        // A lossy or slow WAN loses requests: both steps are retried until the join's timeout
        // (enrolment is safe to repeat: the same request id completes the same enrolment).
        let deadline = ContinuousClock.now + timeout
        steps.begin("contacting the master at \(join.host):\(join.apiPort)")
        let caPEM = try await Self.retrying(until: deadline, steps: steps) {
            try await ControlPlaneClient.using(try ControlPlaneClient(host: join.host, port: join.apiPort, caPEM: nil)) { try await $0.fetchCA(pin: join.caPin) }
        }
        steps.done("master's CA matches the pin")

        steps.begin("enrolling as \(name)")
        let pending = resumableEnrolment(tokenID: join.tokenID, name: name)
        try StateFile.write(pending, to: state.pendingEnrolmentPath)
        let request = API.JoinRequest(token: "\(join.tokenID).\(join.secret)", name: name, publicKey: pending.privateKey.publicKey,
                                      workloads: workloads, requestID: pending.requestID)
        let response = try await Self.retrying(until: deadline, steps: steps) {
            try await ControlPlaneClient.using(try ControlPlaneClient(host: join.host, port: join.apiPort, caPEM: caPEM)) { try await $0.join(request) }
        }
        steps.done("enrolled in domain \(response.map.node.domain) with address \(response.map.node.address)")
        // Tests stop the daemon here, as a crash or a power cut would, before any state is written.
        if ProcessInfo.processInfo.environment["FUSE_TEST_FAILPOINT"] == "after-enrolment" { exit(137) }
        let config = NodeConfig(name: name, interface: interface, masterHost: join.host, apiPort: join.apiPort, caPin: join.caPin,
                                credential: response.credential, privateKey: pending.privateKey, listenPort: nil, isMaster: false)
        // The CA and the map first, the config last: a node with a config is complete.
        try StateFile.write(text: caPEM, to: state.caPath)
        try StateFile.write(response.map, to: state.mapPath)
        try StateFile.write(config, to: state.configPath)
        try? FileManager.default.removeItem(atPath: state.pendingEnrolmentPath)
        try await bringUp(map: response.map, caPEM: caPEM, timeout: timeout, steps: steps)
        if workloads, !response.map.node.runsWorkloads { steps.note("note: this federation runs no workloads; no engine was started") }
        return LocalAPI.JoinResult(name: name, domain: response.map.node.domain, address: response.map.node.address.description,
                                   interface: interface, workloads: response.map.node.runsWorkloads, federation: response.map.federation,
                                   seconds: steps.total, steps: steps.steps.map { LocalAPI.JoinResult.Step(step: $0.0, seconds: $0.1) })
    }

    /// Runs `body` again after a lost request (no answer in time) until `deadline`; a refused
    /// connection or any answer of the master ends it at once.
    static func retrying<T>(until deadline: ContinuousClock.Instant, steps: Steps, _ body: () async throws -> T) async throws -> T {
        var pause = Duration.milliseconds(250)
        while true {
            do { return try await body() } catch ClientError.unreachable(let message) {
                guard ContinuousClock.now + pause < deadline else { throw ClientError.unreachable(message) }
                steps.note("no answer from the master yet (\(message)); trying again")
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(4))
            }
        }
    }

    /// The enrolment written before a crash, when this is the same join again; else a new one.
    private func resumableEnrolment(tokenID: String, name: String) -> PendingEnrolment {
        if let pending = try? StateFile.read(PendingEnrolment.self, from: state.pendingEnrolmentPath),
           pending.tokenID == tokenID, pending.name.lowercased() == name.lowercased() {
            return pending
        }
        return PendingEnrolment(tokenID: tokenID, name: name, requestID: UUID().uuidString, privateKey: WireGuardKey.generatePrivate())
    }

    private func bringUp(map: NetworkMap, caPEM: String, timeout: Duration, steps: Steps) async throws {
        steps.begin("starting the agent")
        try startAgent()
        steps.done("agent running (pid \(getpid()))")

        steps.begin("waiting for the tunnel to carry traffic")
        // Proof of traffic: the control plane answers at the master's VPN address, through the
        // tunnel, once the agent has configured the interface.
        let up = await host.carriesTraffic(to: map.masterAddress, port: map.apiPort, caPEM: caPEM, within: timeout) {
            (await self.status()?.appliedVersion ?? 0) > 0
        }
        guard up else {
            let reason = await status()?.error ?? "is UDP to the master's WireGuard port blocked?"
            throw LocalAPIError(504, "the tunnel to \(map.masterAddress) carried no traffic within \(timeout): \(reason)")
        }
        steps.done("tunnel up: the master answers at \(map.masterAddress)")
        guard map.node.runsWorkloads else { return }
        steps.begin("starting the node's engine and joining the Swarm")
        let ready = await waitFor(timeout, every: .milliseconds(50)) { await self.status()?.workloads == "ready" }
        guard ready else {
            throw LocalAPIError(504, "the node's engine did not join the Swarm within \(timeout): \(await status()?.workloads ?? "the agent stopped")")
        }
        steps.done("ready for workloads: engine in the Swarm, labelled \(map.node.domain)/\(map.node.name)")
    }

    // MARK: Leave

    public func leave(_ request: LocalAPI.LeaveRequest, steps: Steps) async throws -> LocalAPI.LeaveResult {
        guard state.exists, let config = try? state.loadConfig() else { throw LocalAPIError(404, "this host is not in a federation") }
        guard !config.isMaster else { throw LocalAPIError(409, "this is the federation's master: use `fuse master destroy`") }
        guard operation == nil else { throw LocalAPIError(409, "a \(operation ?? "join") is in progress for \(state.root)") }
        operation = "leave"
        defer { operation = nil }
        // The reconcile loop stops first: from here on, only the leave changes the host.
        let stopping = ContinuousClock.now
        await stopAgent()
        logger.info("leave: reconcile loop stopped", metadata: ["seconds": "\(ContinuousClock.now - stopping)"])
        var deregistered = true
        var remaining: Int?
        do {
            let client = try masterClient(config)
            if state.cachedMap()?.node.runsWorkloads == true {
                steps.begin("draining: moving this node's tasks to other nodes")
                remaining = try await client.drain()
                steps.done(remaining == 0 ? "no task runs here any more" : "\(remaining ?? 0) task(s) still ran; they stop with the engine")
            }
            try await client.leave()
        } catch let error as ClientError where error.isUnauthorized {
            // Already removed by the operator: nothing to deregister.
        } catch {
            guard request.force else {
                try? startAgent()
                throw LocalAPIError(503, "\(oneLine(error)); nothing was changed (use --force to leave anyway)")
            }
            deregistered = false
        }
        let tearing = ContinuousClock.now
        await NodeTeardown(state: state, host: host).all(interface: config.interface)
        logger.info("leave: host cleaned", metadata: ["seconds": "\(ContinuousClock.now - tearing)"])
        return LocalAPI.LeaveResult(node: config.name, deregistered: deregistered, tasksLeftRunning: remaining, seconds: steps.total)
    }

    // MARK: Exposures

    public func expose(_ request: API.ExposeRequest) async throws -> Exposure {
        let config = try enrolledConfig()
        do { try LocalLAN.check(request.target, interface: config.interface, local: try await host.localAddresses()) } catch let refused as ExposureTarget.Refused {
            throw LocalAPIError(400, refused.description)
        }
        return try await masterClient(config).call("POST", "/v1/exposures", body: request)
    }

    public func unexpose(_ name: String) async throws {
        let config = try enrolledConfig()
        _ = try await masterClient(config).raw("DELETE", "/v1/exposures/\(name)", body: nil, timeout: .seconds(10))
    }

    private func enrolledConfig() throws -> NodeConfig {
        guard state.exists else { throw LocalAPIError(404, "this host is not in a federation") }
        return try state.loadConfig()
    }

    /// The daemon's one client of the control plane, with the node's credential. It lives as
    /// long as the daemon: shutting down a client whose long-poll was just cancelled takes
    /// seconds, which a leave should not wait for.
    private func masterClient(_ config: NodeConfig) throws -> ControlPlaneClient {
        let identity = "\(config.masterHost):\(config.apiPort) \(config.credential ?? "")"
        if let client, clientIdentity == identity { return client }
        let client = try ControlPlaneClient(host: config.masterHost, port: config.apiPort, caPEM: try state.caPEM(), credential: config.credential)
        if let old = self.client { retired.append(old) }
        self.client = client
        clientIdentity = identity
        return client
    }

    /// Shuts the clients down, waiting at most a moment (the process ends right after).
    private func shutdownClients() async {
        let clients = ([client] + retired).compactMap { $0 }
        client = nil
        retired = []
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for client in clients { await client.shutdown() } }
            group.addTask { try? await Task.sleep(for: .milliseconds(300)) }
            await group.next()
            group.cancelAll()
        }
    }
}

extension ControlPlaneClient {
    /// Runs `body` with the client and shuts it down afterwards.
    public static func using<T>(_ client: ControlPlaneClient, _ body: (ControlPlaneClient) async throws -> T) async throws -> T {
        do {
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }
}
