import Foundation
import FuseModel
import FuseSystem

/// What the control plane asks of the Swarm manager (the master's own engine).
public protocol SwarmControl: Sendable {
    /// The token with which workers join.
    func workerJoinToken() throws -> String
    /// The address a Swarm node reported itself with, or nil for an unknown ID.
    func address(ofNode id: String) throws -> String?
    func label(node id: String, domain: String, name: String) throws
    /// Drains the node and waits until none of its tasks runs, or `timeout`; returns how many
    /// still run.
    func drain(node id: String, timeout: Duration) async throws -> Int
    /// Removes the node from the Swarm (also when it is still up).
    func remove(node id: String) throws
}

/// The Swarm manager through the `docker` client on the master's engine socket.
public struct EngineSwarmControl: SwarmControl {
    let cli: DockerCLI

    public init(cli: DockerCLI) { self.cli = cli }

    public func workerJoinToken() throws -> String {
        try cli.run(["swarm", "join-token", "-q", "worker"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func address(ofNode id: String) throws -> String? {
        let result = try cli.result(["node", "inspect", "--format", "{{.Status.Addr}}", id])
        return result.succeeded ? result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }

    public func label(node id: String, domain: String, name: String) throws {
        try update(node: id, ["--label-add", "fuse.domain=\(domain)", "--label-add", "fuse.node=\(name)"])
    }

    /// `docker node update`. Swarm refuses an update that raced another on the same node ("update
    /// out of sequence", e.g. a restarted agent's labels while its node leaves); the docker client
    /// gives that no code of its own, so a failed update (idempotent) is tried again a few times.
    func update(node id: String, _ options: [String]) throws {
        for attempt in 1... {
            let result = try cli.result(["node", "update"] + options + [id])
            if result.succeeded { return }
            guard attempt < 5 else {
                throw SystemError("docker node update \(options.joined(separator: " ")) \(id) failed: \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            usleep(100_000)
        }
    }

    public func drain(node id: String, timeout: Duration) async throws -> Int {
        try update(node: id, ["--availability", "drain"])
        let deadline = ContinuousClock.now + timeout
        while true {
            let states = try cli.run(["node", "ps", "--format", "{{.CurrentState}}", id])
            let running = states.split(separator: "\n").filter { $0.hasPrefix("Running") || $0.hasPrefix("Starting") }.count
            if running == 0 || ContinuousClock.now >= deadline { return running }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    public func remove(node id: String) throws {
        let result = try cli.result(["node", "rm", "--force", id])
        // Already gone is fine (asked of the manager, not read from the error's text).
        guard try result.succeeded || address(ofNode: id) == nil else {
            throw SystemError("docker node rm: \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}

extension ControlPlane {
    private func workloadNode(_ name: String) throws -> NodeRecord {
        guard let node = try store.nodes().first(where: { $0.name.lowercased() == name.lowercased() }) else {
            throw NodeError.unknown(name)
        }
        guard node.runsWorkloads else { throw SwarmError.nodeRunsNoWorkloads(node.name) }
        return node
    }

    private func requireSwarm() throws -> any SwarmControl {
        guard let swarm else { throw SwarmError.noWorkloads }
        return swarm
    }

    /// The manager's address and the worker join token, for a node that runs workloads.
    public func swarmJoin(node name: String) throws -> SwarmJoin {
        _ = try workloadNode(name)
        let swarm = try requireSwarm()
        let master = try store.nodes().first(where: \.isMaster)!
        do {
            return SwarmJoin(manager: "\(master.address):\(SwarmPorts.manager)", token: try swarm.workerJoinToken())
        } catch {
            throw SwarmError.managerNotReady("\(error)")
        }
    }

    /// A node's engine joined the Swarm as `id`: check that the Swarm node is the caller's (it
    /// reports the caller's VPN address), remember it and label it with its domain and name.
    public func swarmJoined(node name: String, id: String) throws {
        let node = try workloadNode(name)
        let swarm = try requireSwarm()
        guard id.count <= 64, id.allSatisfy({ $0.isLetter || $0.isNumber }) else { throw SwarmError.badSwarmID }
        guard let address = try swarm.address(ofNode: id) else { throw SwarmError.unknownSwarmNode(id) }
        guard address == node.address.description else { throw SwarmError.notTheNodesEngine(id: id, node: node.name) }
        if let previous = try store.swarmID(of: node.name), previous != id { try? swarm.remove(node: previous) }
        try store.setSwarmID(id, of: node.name)
        try swarm.label(node: id, domain: node.domain, name: node.name)
        logger.info("engine joined the Swarm", metadata: ["node": "\(node.name)", "swarm": "\(id)"])
    }

    /// Drains a leaving node's tasks to other nodes; returns how many still ran at the end.
    public func drain(node name: String, timeout: Duration = .seconds(30)) async throws -> Int {
        let node = try workloadNode(name)
        guard let id = try store.swarmID(of: node.name) else { return 0 }
        do { return try await requireSwarm().drain(node: id, timeout: timeout) } catch let error as SystemError {
            logger.warning("cannot drain the node", metadata: ["node": "\(node.name)", "error": "\(error)"])
            throw SwarmError.drainFailed(node: node.name, reason: "\(error)")
        }
    }

    /// Takes a node that leaves or is removed out of the Swarm.
    func removeFromSwarm(_ name: String) {
        guard let swarm, let id = try? store.swarmID(of: name) else { return }
        do { try swarm.remove(node: id) } catch {
            logger.warning("cannot remove the node from the Swarm", metadata: ["node": "\(name)", "error": "\(error)"])
        }
    }
}
