import Foundation
import FuseModel
import FuseSystem

/// The node's host, as the agent changes it: the one place where a network map's `HostPlan`
/// meets links, WireGuard, nftables, sysctls and the engine's process. `LinuxHostPlane` is the
/// real one; `RecordingHostPlane` stands in for it in tests that run without root.
public protocol HostPlane: Sendable {
    /// Throws `InterfaceTaken` when `interface` cannot become FUSE's.
    func checkAvailable(interface: String) async throws

    /// Makes the host match `plan`; the same plan twice changes nothing the second time.
    /// Returns the WireGuard device as it is afterwards (with its peers' handshakes).
    /// `repairing`: the agent's periodic repair, which also checks in full what a new map's
    /// change takes on trust from the last check (the hub's device, the table's existence):
    /// a new map — a join waits for the hub's — is applied without waiting for a check.
    func apply(_ plan: HostPlan, repairing: Bool) async throws -> WireGuardDevice

    /// The WireGuard device's counters per peer, read without changing anything (the path
    /// choice reads them every second); empty before the device exists.
    func peerStats() async throws -> [WireGuardPeerStats]

    /// Whether the tunnel carries traffic within `timeout`: once `ready` holds, the control plane
    /// answers at the master's VPN address, through the tunnel.
    func carriesTraffic(to master: IPv4Address, port: UInt16, caPEM: String, within timeout: Duration,
                        once ready: @escaping @Sendable () async -> Bool) async -> Bool

    /// Drops the session with `peer` and configures it again from `plan`, so that the next packet
    /// (at once: the keepalive) starts a fresh handshake. For a worker whose hub restarted: its
    /// old session is dead at the hub, and WireGuard itself would notice only after ~15 s.
    func restartSession(with peer: WireGuardKey, plan: HostPlan) async throws

    /// Starts the node's engine unless it runs (with the bridges it needs); returns the PID of
    /// an engine it started.
    func ensureEngine(_ engine: EngineSubnet, interface: String, insecureRegistry: String) async throws -> pid_t?

    /// This host's IPv4 addresses with their links (to check an exposure's target).
    func localAddresses() async throws -> [LocalAddress]

    /// Waits up to `interval` between two repairs, less when the data plane's process dies
    /// (killed, crashed): the next repair then brings it back at once.
    func pause(upTo interval: Duration) async throws

    /// Removes what `apply` and `ensureEngine` created and restores what they changed.
    func tearDown(interface: String, _ scope: TeardownScope) async
}

/// How much of a node's host objects go.
public struct TeardownScope: Equatable, Sendable {
    /// The engine keeps its images and Swarm membership for the next start (`fuse master stop`).
    public var keepEngineData: Bool
    /// The node runs the federation's image registry (the master).
    public var registry: Bool

    public init(keepEngineData: Bool = false, registry: Bool = false) {
        self.keepEngineData = keepEngineData
        self.registry = registry
    }
}

/// The interface a join asked for is not free.
public struct InterfaceTaken: Error, CustomStringConvertible, Sendable {
    public let description: String
}
