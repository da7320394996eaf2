import Foundation
import FuseModel
import FuseSystem

/// A host that only records: what `LinuxHostPlane` would have made of each plan, kept in
/// memory. It stands in for the real host in tests that run without root; its tunnel "carries
/// traffic" as soon as the interface has a peer for the master.
public actor RecordingHostPlane: HostPlane {
    /// What one interface looks like on this host.
    public struct Interface: Equatable, Sendable {
        public var plan: HostPlan
        public var engine: EngineSubnet?
    }

    /// The interfaces FUSE made, by name.
    public private(set) var interfaces: [String: Interface] = [:]
    /// Every plan applied, in order.
    public private(set) var applied: [HostPlan] = []
    /// Peers whose session was restarted (`restartSession`), in order.
    public private(set) var restartedSessions: [WireGuardKey] = []
    /// Interfaces that exist on this host without being FUSE's.
    private var foreign: Set<String>
    private let addresses: [LocalAddress]

    /// - Parameters:
    ///   - foreignInterfaces: links that exist already (a join asking for one is refused).
    ///   - lan: the host's own addresses besides FUSE's (for exposure checks).
    ///   - handshakeAge: how long ago every peer's last handshake was (0: it answers at once).
    public init(foreignInterfaces: Set<String> = [], lan: [LocalAddress] = [], handshakeAge: TimeInterval = 0) {
        foreign = foreignInterfaces
        addresses = lan
        self.handshakeAge = handshakeAge
    }
    private let handshakeAge: TimeInterval

    /// Whether FUSE holds nothing on this host.
    public var isEmpty: Bool { interfaces.isEmpty }

    public func checkAvailable(interface: String) async throws {
        if foreign.contains(interface) || interfaces[interface] != nil {
            throw InterfaceTaken(description: "interface \(interface) already exists; choose another with --interface")
        }
    }

    public func apply(_ plan: HostPlan, repairing: Bool) async throws -> WireGuardDevice {
        applied.append(plan)
        interfaces[plan.interface, default: Interface(plan: plan)].plan = plan
        // Every peer answers at once (or answered `handshakeAge` ago).
        var device = plan.device
        let now = Int64(Date().timeIntervalSince1970 - handshakeAge)
        for index in device.peers.indices { device.peers[index].lastHandshake = now }
        return device
    }

    /// No traffic is recorded: the path stays direct.
    public func peerStats() async throws -> [WireGuardPeerStats] { [] }

    public func restartSession(with peer: WireGuardKey, plan: HostPlan) async throws {
        restartedSessions.append(peer)
    }

    public func carriesTraffic(to master: IPv4Address, port: UInt16, caPEM: String, within timeout: Duration,
                               once ready: @escaping @Sendable () async -> Bool) async -> Bool {
        await waitFor(timeout, every: .milliseconds(10)) {
            guard await ready() else { return false }
            return self.routes(to: master)
        }
    }

    private func routes(to address: IPv4Address) -> Bool {
        interfaces.values.contains { $0.plan.device.peers.contains { $0.allowedIPs.contains { $0.contains(address) } } }
    }

    public func ensureEngine(_ engine: EngineSubnet, interface: String, insecureRegistry: String) async throws -> pid_t? {
        interfaces[interface]?.engine = engine
        return nil
    }

    public func localAddresses() async throws -> [LocalAddress] {
        addresses + interfaces.values.compactMap { interface in
            let parts = interface.plan.address.split(separator: "/")
            guard let address = parts.first.flatMap({ IPv4Address(String($0)) }), let prefix = parts.last.flatMap({ Int($0) }) else { return nil }
            return LocalAddress(link: interface.plan.interface, address: address, subnet: IPv4CIDR(network: address, prefixLength: prefix))
        }
    }

    public func pause(upTo interval: Duration) async throws {
        try await Task.sleep(for: interval)
    }

    public func tearDown(interface: String, _ scope: TeardownScope) async {
        interfaces[interface] = nil
    }
}
