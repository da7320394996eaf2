import Foundation
import FuseAgent
import FuseControl
import FuseMaster
import FuseModel
import FuseSystem
import Logging
import Synchronization
import Testing

/// A federation in one test process: the real master process (control plane over HTTPS on
/// loopback, with its hub agent) and real node daemons (local API on their unix sockets), each
/// host replaced by a `RecordingHostPlane`. No root, no namespaces, no traffic beyond loopback.
final class InProcessFederation: @unchecked Sendable {
    let root: String
    let apiPort: UInt16
    let master: MasterState
    let masterNode: NodeState
    let hub = RecordingHostPlane()
    private var masterTask: Task<Void, Error>?
    private let logger: Logger

    private init(root: String, apiPort: UInt16) {
        self.root = root
        self.apiPort = apiPort
        master = MasterState(stateDir: root + "/master")
        masterNode = NodeState(stateDir: root + "/master")
        var logger = Logger(label: "fuse-integration")
        logger.logLevel = ProcessInfo.processInfo.environment["FUSE_TEST_LOG"] == nil ? .critical : .debug
        self.logger = logger
    }

    /// Runs `body` with a new federation (master started) and removes everything afterwards.
    static func with(_ body: (InProcessFederation) async throws -> Void) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fuse-integration-\(UUID().uuidString.prefix(8))").path
        let federation = InProcessFederation(root: root, apiPort: try PortProbe.freeTCPPort())
        defer { try? FileManager.default.removeItem(atPath: root) }
        let config = MasterConfig(federation: "relief", domain: "crisis", nodeName: "master", endpoint: "127.0.0.1",
                                  cidr: try IPv4CIDR(parsing: "10.99.0.0/16"), apiPort: federation.apiPort, wireGuardPort: 51999,
                                  interface: "fuse-it0", adminCredentialDigest: "", engineCIDR: nil, overlayCIDR: nil)
        try MasterSetup.create(config, master: federation.master, node: federation.masterNode)
        do {
            try await federation.startMaster()
            try await body(federation)
        } catch {
            await federation.stopMaster()
            throw error
        }
        await federation.stopMaster()
    }

    // MARK: The master

    func startMaster() async throws {
        var options = MasterProcess.Options()
        options.listenAddress = "127.0.0.1"
        options.dns = false
        options.monitor = false
        options.repairInterval = .milliseconds(200)
        let process = MasterProcess(state: master, nodeState: masterNode, host: hub, logger: logger, agentLogger: logger, options: options)
        masterTask = Task { try await process.run() }
        let up = await waitFor(.seconds(10), every: .milliseconds(20)) {
            (try? await self.operatorClient { try await $0.health(timeout: .seconds(1)) }) != nil
        }
        try #require(up, "the control plane answers on 127.0.0.1:\(apiPort)")
    }

    func stopMaster() async {
        masterTask?.cancel()
        _ = await masterTask?.result
        masterTask = nil
    }

    /// Runs `body` with a client that holds the operator's credential.
    func operatorClient<T>(_ body: (ControlPlaneClient) async throws -> T) async throws -> T {
        let client = try ControlPlaneClient(host: "127.0.0.1", port: apiPort, caPEM: try master.caPEM(), credential: try master.adminCredential())
        return try await ControlPlaneClient.using(client, body)
    }

    func joinString(domain: String) async throws -> String {
        let created: API.TokenCreateResponse = try await operatorClient {
            try await $0.call("POST", "/v1/tokens", body: API.TokenCreateRequest(domain: domain, ttlSeconds: 900, uses: 1))
        }
        return created.join
    }

    func setPolicy(_ text: String) async throws {
        let _: API.PolicyInfo = try await operatorClient { try await $0.call("PUT", "/v1/policy", body: API.PolicyBody(text: text)) }
    }

    func nodes() async throws -> [API.NodeInfo] {
        try await operatorClient { try await $0.call("GET", "/v1/nodes") }
    }

    // MARK: Nodes

    func node(_ name: String, host: RecordingHostPlane = RecordingHostPlane()) -> InProcessNode {
        InProcessNode(name: name, state: NodeState(stateDir: root + "/" + name), host: host, logger: logger)
    }
}

/// One node's host: a state dir and a recorded host, with its daemon running or not.
final class InProcessNode: @unchecked Sendable {
    let name: String
    let state: NodeState
    let host: RecordingHostPlane
    let logger: Logger
    private var daemonTask: Task<Void, Error>?
    private let ended = Mutex(false)

    init(name: String, state: NodeState, host: RecordingHostPlane = RecordingHostPlane(), logger: Logger) {
        self.name = name
        self.state = state
        self.host = host
        self.logger = logger
    }

    /// The same node after a power cycle: its files, and a host that holds nothing of FUSE.
    func rebooted() async -> InProcessNode {
        await stopDaemon()
        return InProcessNode(name: name, state: state, logger: logger)
    }

    var interface: String { "fuse-" + name }
    var client: LocalClient { state.localClient }

    /// Starts the node's daemon (as `fuse agent run` does) and waits for its local API.
    func startDaemon() async throws {
        let daemon = NodeDaemon(state: state, host: host, logger: logger)
        ended.withLock { $0 = false }
        daemonTask = Task {
            defer { self.ended.withLock { $0 = true } }
            try await daemon.run()
        }
        let answering = await waitFor(.seconds(5), every: .milliseconds(10)) { await self.client.isAnswering() }
        try #require(answering, "\(name)'s daemon answers on its local API")
    }

    /// Stops the daemon as a crash would, without a leave: the host keeps what it had.
    func stopDaemon() async {
        daemonTask?.cancel()
        _ = await daemonTask?.result
        daemonTask = nil
    }

    /// Waits until the daemon has ended by itself; returns whether it did.
    func daemonEnds(within timeout: Duration = .seconds(10)) async -> Bool {
        await waitFor(timeout, every: .milliseconds(20)) { self.ended.withLock { $0 } }
    }

    func join(_ joinString: String) async throws -> LocalAPI.JoinResult {
        try await client.stream("/join", body: LocalAPI.JoinRequest(joinString: joinString, name: name, interface: interface, workloads: false,
                                                                    timeoutSeconds: 20),
                                timeout: .seconds(30), as: LocalAPI.JoinResult.self) { _ in }
    }

    func leave() async throws -> LocalAPI.LeaveResult {
        try await client.stream("/leave", body: LocalAPI.LeaveRequest(force: false), timeout: .seconds(30), as: LocalAPI.LeaveResult.self) { _ in }
    }

    /// The node's recorded interface, once it is configured.
    var plan: HostPlan? {
        get async { await host.interfaces[interface]?.plan }
    }

    /// Waits until the recorded plan satisfies `condition`.
    func waitForPlan(_ timeout: Duration = .seconds(10), _ condition: @escaping @Sendable (HostPlan) -> Bool) async -> Bool {
        await waitFor(timeout, every: .milliseconds(20)) { await self.plan.map(condition) ?? false }
    }

}

