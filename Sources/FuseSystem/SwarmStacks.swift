import Foundation
import FuseModel

/// Stacks on the Swarm manager, through the docker client: deploy, list tasks with their
/// nodes, remove. Nodes are named by their `fuse.node` labels (every lab node has the same
/// host name, and a host name says nothing about the federation).
public struct SwarmStacks: Sendable {
    let cli: DockerCLI

    public init(cli: DockerCLI) { self.cli = cli }

    public static let stackLabel = "com.docker.stack.namespace"

    /// The names of the deployed stacks.
    public func stacks() throws -> [String] {
        Set(try services().compactMap { $0.Spec.Labels?[Self.stackLabel] }).sorted()
    }

    public func deploy(stack: String, composeFile: String) throws {
        try cli.run(["stack", "deploy", "--resolve-image", "never", "--prune", "-c", composeFile, stack])
    }

    public func remove(stack: String) throws {
        try cli.run(["stack", "rm", stack])
    }

    /// Whether anything of the stack is left on the manager: services, networks, and the
    /// containers of its tasks on the manager's own engine (other nodes remove theirs when they
    /// hear of it, within a few seconds).
    public func isGone(stack: String) throws -> Bool {
        let filter = "label=\(Self.stackLabel)=\(stack)"
        return try [["service", "ls"], ["network", "ls"], ["ps", "-a"]].allSatisfy { command in
            try cli.run(command + ["-q", "--filter", filter]).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        }
    }

    /// The tasks of `stack` (or of every stack), sorted by stack, service and slot; with
    /// `all`, also the ones that ended.
    public func tasks(stack: String? = nil, all: Bool = false) throws -> [StackTask] {
        let services = try services().filter { service in
            guard let name = service.Spec.Labels?[Self.stackLabel] else { return false }
            return stack == nil || name == stack
        }
        guard !services.isEmpty else { return [] }
        let taskIDs = try cli.run(["service", "ps", "-q", "--no-trunc"] + services.map(\.ID))
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        guard !taskIDs.isEmpty else { return [] }
        let tasks = try decode([SwarmTask].self, try cli.run(["inspect", "--type", "task"] + Array(Set(taskIDs)).sorted()))
        let nodes = try swarmNodes()
        let byService = Dictionary(services.map { ($0.ID, $0) }, uniquingKeysWith: { first, _ in first })
        return tasks.compactMap { task -> StackTask? in
            guard all || task.DesiredState == "running" || task.DesiredState == "ready",
                  let service = byService[task.ServiceID] else { return nil }
            let labels = task.NodeID.flatMap { nodes[$0] }
            return StackTask(stack: service.Spec.Labels?[Self.stackLabel] ?? "", service: service.Spec.Name, slot: task.Slot, id: task.ID,
                             node: labels?["fuse.node"] ?? task.NodeID, domain: labels?["fuse.domain"], state: task.Status.State,
                             desiredState: task.DesiredState, error: task.Status.Err.flatMap { $0.isEmpty ? nil : $0 },
                             image: task.Spec.ContainerSpec?.Image.map(Self.withoutDigest) ?? "")
        }.sorted { ($0.stack, $0.service, $0.slot ?? 0, $0.id) < ($1.stack, $1.service, $1.slot ?? 0, $1.id) }
    }

    /// Swarm node ID → its labels.
    func swarmNodes() throws -> [String: [String: String]] {
        let ids = try cli.run(["node", "ls", "-q"]).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        guard !ids.isEmpty else { return [:] }
        let nodes = try decode([SwarmNode].self, try cli.run(["node", "inspect"] + ids))
        return Dictionary(nodes.map { ($0.ID, $0.Spec.Labels ?? [:]) }, uniquingKeysWith: { first, _ in first })
    }

    private func services() throws -> [SwarmService] {
        let ids = try cli.run(["service", "ls", "-q"]).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        guard !ids.isEmpty else { return [] }
        return try decode([SwarmService].self, try cli.run(["service", "inspect"] + ids))
    }

    private func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        do { return try JSONDecoder().decode(type, from: Data(json.utf8)) } catch {
            throw SystemError("unexpected answer from docker: \(error)")
        }
    }

    static func withoutDigest(_ image: String) -> String {
        image.split(separator: "@").first.map(String.init) ?? image
    }

    // Docker's JSON, as much of it as FUSE reads.
    struct SwarmService: Decodable {
        struct Spec: Decodable {
            let Name: String
            let Labels: [String: String]?
        }
        let ID: String
        let Spec: Spec
    }

    struct SwarmTask: Decodable {
        struct Status: Decodable {
            let State: String
            let Err: String?
        }
        struct Spec: Decodable {
            struct Container: Decodable { let Image: String? }
            let ContainerSpec: Container?
        }
        let ID: String
        let ServiceID: String
        let NodeID: String?
        let Slot: Int?
        let DesiredState: String
        let Status: Status
        let Spec: Spec
    }

    struct SwarmNode: Decodable {
        struct Spec: Decodable { let Labels: [String: String]? }
        let ID: String
        let Spec: Spec
    }
}
