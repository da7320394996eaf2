import Foundation
import FuseModel
import FuseSystem
import Logging

/// The real host: wireguard-go (or kernel WireGuard) with its peers, the interface's address
/// (and with it the route of the whole range), the node's nftables table, IPv4 forwarding and
/// the engine's dockerd. Requires root. The only writer of the node's `host.json` after the
/// node's folder was created: what FUSE changed on the host besides its own objects, so that
/// teardown undoes exactly that.
///
/// Every call runs on NIO's thread pool (it spawns `ip`, `nft` and daemons and waits for them),
/// one at a time.
public final class LinuxHostPlane: HostPlane, @unchecked Sendable {
    let state: NodeState
    let runner: any CommandRunning
    let logger: Logger
    /// Serialises host changes; guards the fields below.
    private let lock = NSLock()
    private var backend: (any WireGuardBackend)?
    private var appliedRuleset: RenderedRuleset?
    /// The hub's device as the last apply left it, when it was last checked in full, and the
    /// interface address that check configured: a new map is applied against it instead of
    /// checking the device and reading every peer back over UAPI per map (at 2,000 peers that
    /// was most of the hub's cycle, which every join waits for). The repair checks it again
    /// (`knownHubDevice`), so a change made behind FUSE's back is still found within seconds.
    private var hubDevice: (device: WireGuardDevice, readAt: ContinuousClock.Instant, address: String)?
    /// When the node's nftables table was last seen to exist. The check (`nft list table`) costs
    /// in proportion to every set's elements — nft reads the whole ruleset first: 20–30 ms on
    /// the hub at 2,000 nodes, and 80 ms on the bench's hub, where it was most of an exposure's
    /// way — so a new map that leaves the table alone does not check it; the repair does, and
    /// restores a table removed behind FUSE's back.
    private var tableSeenAt: ContinuousClock.Instant?
    /// How old a check may be before the repair makes it again (the repair runs every 5 s); a
    /// new map makes it only when the last one is older than `checkBackstop` (no repair ran:
    /// at 2,000 peers the device's check is 20–40 ms, and the join that met it waited for it).
    static let checkInterval: Duration = .seconds(4)
    static let checkBackstop: Duration = .seconds(15)

    public init(state: NodeState, logger: Logger, runner: any CommandRunning = HostCommandRunner()) {
        self.state = state
        self.logger = logger
        self.runner = runner
    }

    private func serialised<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await BlockingWork.run { try self.lock.withLock(body) }
    }

    /// Records a change to the host. A full disk does not stop the host from converging: the
    /// failure is logged loudly, and the change made.
    private func record(_ change: (inout HostChanges) -> Void) {
        var changes = state.hostChanges()
        change(&changes)
        do { try StateFile.write(changes, to: state.hostChangesPath) } catch {
            logger.error("cannot record the host's changes; leave may not restore them", metadata: ["error": "\(error)"])
        }
    }

    public func checkAvailable(interface: String) async throws {
        try await serialised { [runner] in
            guard !HostNetwork(runner: runner).linkExists(interface) else {
                throw InterfaceTaken(description: "interface \(interface) already exists; choose another with --interface")
            }
            do { try UserspaceWireGuard(interface: interface).checkNotForeign() } catch { throw InterfaceTaken(description: "\(error)") }
        }
    }

    public func apply(_ plan: HostPlan, repairing: Bool) async throws -> WireGuardDevice {
        try await serialised { try self.converge(plan, checkAfter: repairing ? Self.checkInterval : Self.checkBackstop) }
    }

    /// `checkAfter`: how old the last full check of the device and the table may be.
    private func converge(_ plan: HostPlan, checkAfter: Duration) throws -> WireGuardDevice {
        if !FileManager.default.fileExists(atPath: UAPISocket.directory) { record { $0.createdRunDirectory = true } }
        let wireGuard = try backend ?? WireGuardBackends.choose(interface: plan.interface, runner: runner)
        backend = wireGuard
        var current: WireGuardDevice
        if let known = knownHubDevice(for: plan, checkedWithin: checkAfter) {
            current = known
        } else {
            try ensureDevice(wireGuard, plan: plan)
            current = try wireGuard.read()
            hubDevice = plan.isHub ? (current, .now, plan.address) : nil
        }
        let changed: Bool
        do { changed = try wireGuard.apply(desired: plan.device, current: current) } catch {
            hubDevice = nil
            throw error
        }
        if changed {
            logger.info("configured WireGuard peers", metadata: ["peers": "\(plan.device.peers.count)"])
            current = plan.isHub ? current.afterApplying(plan.device) : try wireGuard.read()
        }
        if plan.isHub, let known = hubDevice { hubDevice = (current, known.readAt, known.address) }
        if let reason = plan.forwarding {
            let sysctl = Sysctl()
            let forwarding = try sysctl.get("net.ipv4.ip_forward")
            if forwarding != "1" {
                record { $0.ipForwardBefore = forwarding }
                try sysctl.set("net.ipv4.ip_forward", "1")
                logger.info("enabled IPv4 forwarding", metadata: ["why": "\(reason.rawValue)"])
            }
        }
        if plan.ruleset != appliedRuleset || !tableExists(plan.tableName, seenWithin: checkAfter) {
            // By what changed (the hub's table grows with the federation: a join, an exposure
            // or a policy change must not reload every node's address); the whole table when
            // there is none applied yet or the change does not apply (the table was changed
            // or removed behind FUSE's back).
            let changes = appliedRuleset.flatMap(plan.ruleset.changes(from:))
            if !(changes.map { runner.succeeds(["nft", "-f", "-"], input: $0) } ?? false) {
                try runner.check(["nft", "-f", "-"], input: plan.ruleset.text)
            }
            appliedRuleset = plan.ruleset
            tableSeenAt = .now
        }
        return current
    }

    /// Whether the table exists: seen less than `interval` ago, else listed now.
    private func tableExists(_ table: String, seenWithin interval: Duration) -> Bool {
        if let seen = tableSeenAt, ContinuousClock.now - seen < interval { return true }
        guard runner.succeeds(["nft", "list", "table", "inet", table]) else { return false }
        tableSeenAt = .now
        return true
    }

    /// wireguard-go running (started if not) and its link configured and up.
    private func ensureDevice(_ wireGuard: any WireGuardBackend, plan: HostPlan) throws {
        if let pid = try wireGuard.ensureRunning(logFile: state.wireGuardLogPath) {
            do { try StateFile.write(text: "\(pid)\n", to: state.wireGuardPIDPath) } catch {
                logger.error("cannot record wireguard-go's PID; going on", metadata: ["error": "\(error)"])
            }
            logger.info("started wireguard-go", metadata: ["interface": "\(plan.interface)", "pid": "\(pid)"])
            appliedRuleset = nil
            tableSeenAt = nil
            hubDevice = nil
        }
        // The link goes up before the peers are set: a handshake that wireguard-go starts while
        // its device is down is lost, and WireGuard retries only after 5 s.
        try HostNetwork(runner: runner).configure(link: plan.interface, address: plan.address, mtu: plan.mtu)
    }

    /// The hub's device as the last apply left it, while that was checked in full (process,
    /// link, every peer read back) less than `interval` ago and the wireguard-go it started
    /// still runs; nil: check it now. Each full check dumps every peer over UAPI once (the
    /// device's answer is probed with an empty `set`) and spawns `ip` three times.
    private func knownHubDevice(for plan: HostPlan, checkedWithin interval: Duration) -> WireGuardDevice? {
        guard plan.isHub, let known = hubDevice, known.address == plan.address, ContinuousClock.now - known.readAt < interval,
              let pid = state.pid(at: state.wireGuardPIDPath), Daemon.isAlive(pid)
        else { return nil }
        return known.device
    }

    public func peerStats() async throws -> [WireGuardPeerStats] {
        try await serialised { try self.backend?.peerStats() ?? [] }
    }

    public func restartSession(with peer: WireGuardKey, plan: HostPlan) async throws {
        try await serialised {
            guard let wireGuard = self.backend else { return }
            let current = try wireGuard.read()
            guard current.peers.contains(where: { $0.publicKey == peer }) else { return }
            var without = current
            without.peers.removeAll { $0.publicKey == peer }
            _ = try wireGuard.apply(desired: without, current: current)
            _ = try wireGuard.apply(desired: plan.device, current: without)
            self.hubDevice = nil
            self.logger.info("restarted the session with the hub", metadata: ["peer": "\(peer.base64.prefix(8))…"])
        }
    }

    public func carriesTraffic(to master: IPv4Address, port: UInt16, caPEM: String, within timeout: Duration,
                               once ready: @escaping @Sendable () async -> Bool) async -> Bool {
        // Each try may take a few round trips (TCP, TLS, the request): 3 s fits a 400 ms WAN.
        guard let client = try? ControlPlaneClient(host: master.description, port: port, caPEM: caPEM, connectTimeout: .seconds(3)) else {
            return false
        }
        let up = await waitFor(timeout, every: .milliseconds(20)) {
            // Only once the interface is configured: a connection begun before would take the
            // LAN's source address and hang until its connect timeout.
            guard await ready() else { return false }
            return (try? await client.health(timeout: .seconds(3))) != nil
        }
        await client.shutdown()
        return up
    }

    public func ensureEngine(_ engine: EngineSubnet, interface: String, insecureRegistry: String) async throws -> pid_t? {
        try await serialised {
            if !self.state.hostChanges().createdContainerdDirectory, !FileManager.default.fileExists(atPath: NodeState.containerdRunDirectory) {
                self.record { $0.createdContainerdDirectory = true }
            }
            let dockerd = self.state.engine(interface: interface)
            let pid = try dockerd.ensureRunning(subnet: engine, insecureRegistry: insecureRegistry)
            try dockerd.ensureGatewayBridge(subnet: engine)
            return pid
        }
    }

    public func localAddresses() async throws -> [LocalAddress] {
        try await BlockingWork.run { [runner] in try HostNetwork(runner: runner).localAddresses() }
    }

    public func pause(upTo interval: Duration) async throws {
        // Kernel WireGuard has no process, and one that is dead already was not brought back by
        // the last repair: a plain wait (no busy loop of failing repairs).
        guard let pid = state.pid(at: state.wireGuardPIDPath), Daemon.isAlive(pid) else { return try await Task.sleep(for: interval) }
        let deadline = ContinuousClock.now + interval
        while ContinuousClock.now < deadline {
            if !Daemon.isAlive(pid) {
                var status: Int32 = 0
                _ = waitpid(pid, &status, WNOHANG)  // ours when this daemon started it
                return
            }
            try await Task.sleep(for: min(.milliseconds(100), deadline - ContinuousClock.now))
        }
    }

    public func tearDown(interface: String, _ scope: TeardownScope) async {
        _ = try? await serialised {
            self.removeHostObjects(interface: interface, scope)
            self.backend = nil
            self.appliedRuleset = nil
            self.tableSeenAt = nil
            self.hubDevice = nil
        }
    }

    /// In the order that leaves nothing behind: engine, registry, WireGuard (with its interface
    /// and socket), nftables table, sysctls, machine-wide folders FUSE created.
    private func removeHostObjects(interface: String, _ scope: TeardownScope) {
        let engine = state.engine(interface: interface)
        if scope.keepEngineData { engine.stop() } else { engine.remove() }
        if scope.registry { ImageRegistry(directory: state.registryDirectory, pullAddress: "").stop() }
        let network = HostNetwork(runner: runner)
        let wireGuard = UserspaceWireGuard(interface: interface)
        wireGuard.stop(pid: state.pid(at: state.wireGuardPIDPath))
        // A wireguard-go not started by us (e.g. a previous run whose PID file was lost).
        if wireGuard.isResponding, network.linkExists(interface), let pid = Self.pidOfWireGuard(interface: interface) {
            wireGuard.stop(pid: pid)
        }
        // Kernel WireGuard: the link is the device.
        try? network.deleteLink(interface)
        let table = NodeRuleset.tableName(interface: interface)
        if runner.succeeds(["nft", "list", "table", "inet", table]) {
            _ = runner.succeeds(["nft", "delete", "table", "inet", table])
        }
        let changes = state.hostChanges()
        if let before = changes.ipForwardBefore { try? Sysctl().set("net.ipv4.ip_forward", before) }
        if changes.createdRunDirectory { Self.removeIfEmpty(UAPISocket.directory) }
        if changes.createdContainerdDirectory {
            Self.removeIfEmpty(NodeState.containerdRunDirectory + "/s")
            Self.removeIfEmpty(NodeState.containerdRunDirectory)
        }
    }

    private static func removeIfEmpty(_ directory: String) {
        if (try? FileManager.default.contentsOfDirectory(atPath: directory))?.isEmpty == true {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Finds a `wireguard-go IFNAME` process by its command line.
    static func pidOfWireGuard(interface: String) -> pid_t? {
        Daemon.commandLines().first { $0.arguments.count == 2 && $0.arguments[0].hasSuffix("wireguard-go") && $0.arguments[1] == interface }?.pid
    }
}
