import Foundation
import FuseModel
import FuseSystem
import ServiceLifecycle
import Synchronization

/// Measures what the dashboard shows beside the store: the hub's WireGuard counters per peer
/// (UAPI `get=1`, every second), the round trip to each online node over the tunnel (one ICMP
/// echo each, every 5 s; a node whose policy drops pings shows none) and the Swarm's tasks per
/// node (every 5 s). On shutdown it ends the dashboard's streams and viewers.
public struct FederationMonitor: Service {
    let controlPlane: ControlPlane
    let interface: String
    let tasks: @Sendable () throws -> [StackTask]

    public init(controlPlane: ControlPlane, interface: String, tasks: @escaping @Sendable () throws -> [StackTask]) {
        self.controlPlane = controlPlane
        self.interface = interface
        self.tasks = tasks
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var round = 0
            while !Task.isCancelled {
                await sample(slow: round % 5 == 0)
                round += 1
                try await Task.sleep(for: .seconds(1))
            }
        }
        await controlPlane.dashboard.close()
    }

    func sample(slow: Bool) async {
        let interface = interface
        guard let peers = await BlockingWork.abandonable({ (try? UAPISocket().exchange(interface: interface, request: WireGuardUAPI.getRequest)).map(WireGuardPeerStats.parse) ?? [] }) else { return }
        controlPlane.dashboard.monitor.withLock { sample in
            sample.peers = Dictionary(peers.map { ($0.publicKey, $0) }, uniquingKeysWith: { $1 })
        }
        guard slow, let nodes = try? await controlPlane.nodes() else { return }
        let targets = nodes.filter { $0.online && !$0.isMaster }.map { ($0.name, $0.address.description) }
        let tasks = tasks
        async let placed = BlockingWork.abandonable { (try? tasks()) ?? [] }
        var roundTrips: [String: Double] = [:]
        await withTaskGroup(of: (String, Double?).self) { group in
            for (name, address) in targets {
                group.addTask { (name, await BlockingWork.abandonable { Self.ping(address) } ?? nil) }
            }
            for await (name, rtt) in group { roundTrips[name] = rtt }
        }
        guard let running = await placed, !Task.isCancelled else { return }
        let byNode = Dictionary(grouping: running.filter { $0.state == "running" }, by: { $0.node ?? "" }).mapValues { $0.map(\.service).sorted() }
        controlPlane.dashboard.monitor.withLock { sample in
            sample.roundTrips = roundTrips
            sample.tasks = byNode
        }
    }

    /// One ICMP echo; the round trip in milliseconds, or nil.
    static func ping(_ address: String) -> Double? {
        guard let result = try? HostCommandRunner(timeout: .seconds(3)).run(["ping", "-n", "-c1", "-W1", address]), result.succeeded,
              let range = result.stdout.range(of: #"time=[0-9.]+"#, options: .regularExpression) else { return nil }
        return Double(result.stdout[range].dropFirst(5))
    }
}

