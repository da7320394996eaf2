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
        guard let read = await offload({ (try? UAPISocket().exchange(interface: interface, request: "get=1\n\n")).map(WireGuardPeerStats.parse) }) else { return }
        // A hub that does not answer (restarting) changes nothing of what is kept.
        if let read { controlPlane.hubEndpoints.record(read.map { (key: $0.publicKey, endpoint: $0.endpoint) }) }
        let peers = read ?? []
        controlPlane.dashboard.monitor.withLock { sample in
            sample.peers = Dictionary(peers.map { ($0.publicKey, $0) }, uniquingKeysWith: { $1 })
        }
        guard slow, let nodes = try? await controlPlane.nodes() else { return }
        let targets = nodes.filter { $0.online && !$0.isMaster }.map { ($0.name, $0.address.description) }
        let tasks = tasks
        async let placed = offload { (try? tasks()) ?? [] }
        var roundTrips: [String: Double] = [:]
        await withTaskGroup(of: (String, Double?).self) { group in
            for (name, address) in targets {
                group.addTask { (name, await offload { Self.ping(address) } ?? nil) }
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

/// Runs blocking work (commands, sockets) on a thread of its own, not on the few threads of
/// Swift's cooperative pool that serve the API. Cancellation returns nil at once (the work
/// finishes on its thread), so that a slow docker call never holds up the master's shutdown.
func offload<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T? {
    let once = ResumeOnce<T?>()
    return await withTaskCancellationHandler {
        await withCheckedContinuation { continuation in
            once.set(continuation)
            Thread.detachNewThread { once.resume(work()) }
        }
    } onCancel: {
        once.resume(nil)
    }
}

/// A continuation resumed by whichever comes first, also when that comes before it is set.
final class ResumeOnce<T: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<T, Never>?, value: T?, done: Bool)>((nil, nil, false))

    func set(_ continuation: CheckedContinuation<T, Never>) {
        let ready: T? = state.withLock { state in
            guard !state.done else { return nil }
            if let value = state.value {
                state.done = true
                return value
            }
            state.continuation = continuation
            return nil
        }
        if let ready { continuation.resume(returning: ready) }
    }

    func resume(_ value: T) {
        let continuation: CheckedContinuation<T, Never>? = state.withLock { state in
            guard !state.done, state.value == nil else { return nil }
            guard let continuation = state.continuation else {
                state.value = value
                return nil
            }
            state.done = true
            state.continuation = nil
            return continuation
        }
        continuation?.resume(returning: value)
    }
}
