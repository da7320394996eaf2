import Foundation
import FuseModel
import FuseSystem
import ServiceLifecycle
import Synchronization

/// Measures what the dashboard shows beside the store: the hub's WireGuard counters per peer
/// (UAPI `get=1`, every second), the round trip to each online node whose tunnel is up (one
/// ICMP echo each from one raw socket, `Pinger`, a round every 5 s; a node whose policy drops
/// pings shows none) and the Swarm's tasks per node (each round).
/// On shutdown it ends the dashboard's streams and viewers.
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
            // Two loops: a round of pings to 2,000 nodes takes longer than a second and must
            // not hold up the hub's counters.
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        await sampleHub()
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        let round = ContinuousClock.now
                        await sampleNodes()
                        try? await Task.sleep(until: round + .seconds(5))
                    }
                }
            }
        }
        await controlPlane.dashboard.close()
    }

    func sampleHub() async {
        let interface = interface
        guard let read = await BlockingWork.abandonable({ (try? UAPISocket().exchange(interface: interface, request: WireGuardUAPI.getRequest)).map(WireGuardPeerStats.parse) }) else { return }
        // A hub that does not answer (restarting) changes nothing of what is kept.
        if let read { controlPlane.hubEndpoints.record(read.map { (key: $0.publicKey, endpoint: $0.endpoint) }) }
        let peers = read ?? []
        controlPlane.dashboard.monitor.withLock { sample in
            sample.peers = Dictionary(peers.map { ($0.publicKey, $0) }, uniquingKeysWith: { $1 })
        }
    }

    func sampleNodes() async {
        guard let nodes = try? await controlPlane.nodes() else { return }
        // Only nodes whose tunnel with the hub is up can answer (an echo to a peer without a
        // session only makes the hub's WireGuard try a handshake).
        let peers = controlPlane.dashboard.monitor.withLock { $0.peers }, now = Date().timeIntervalSince1970
        let reachable = nodes.filter { node in
            node.online && !node.isMaster && peers[node.publicKey].map { WireGuardTimers.isFresh(lastHandshake: $0.lastHandshake, now: now) } == true
        }
        let targets = Dictionary(reachable.map { ($0.address, $0.name) }, uniquingKeysWith: { first, _ in first })
        let tasks = tasks
        async let placed = BlockingWork.abandonable { (try? tasks()) ?? [] }
        let addresses = Array(targets.keys)
        let answered = await BlockingWork.abandonable { Pinger.roundTrips(to: addresses, timeout: .seconds(1)) } ?? [:]
        let roundTrips = Dictionary(answered.compactMap { address, rtt in targets[address].map { ($0, rtt) } }, uniquingKeysWith: { first, _ in first })
        guard let running = await placed, !Task.isCancelled else { return }
        let byNode = Dictionary(grouping: running.filter { $0.state == "running" }, by: { $0.node ?? "" }).mapValues { $0.map(\.service).sorted() }
        controlPlane.dashboard.monitor.withLock { sample in
            sample.roundTrips = roundTrips
            sample.tasks = byNode
        }
    }
}

