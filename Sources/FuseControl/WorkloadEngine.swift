import Foundation
import FuseModel

/// What the control plane asks of the master's engine for deployments: the federation's
/// registry (pushed through its loopback side only) and the Swarm's stacks. The master wires the
/// real one to its own engine; tests use a fake.
public protocol WorkloadEngine: Sendable {
    /// Where an uploaded image archive is kept until it is in the registry (the master's state dir).
    var uploadDirectory: String { get }
    /// The largest image archive taken, in bytes.
    var uploadLimit: Int { get }

    /// `NAME:TAG` of every image in the federation's registry, sorted.
    func images() async throws -> [String]
    /// The content digest the registry gives the image's tag now; nil when it has no such tag.
    func digest(of image: ImageReference) async throws -> String?
    /// Loads the archive into the master's engine and pushes it to the registry as `image`.
    /// `source` names the image inside a `docker-archive`. Throws `WorkloadError.imageRefused`
    /// when the engine does not take the archive.
    func addImage(archive: String, format: API.ImageArchiveFormat, source: String?, as image: ImageReference) async throws

    /// The names of the deployed stacks, sorted.
    func stacks() async throws -> [String]
    /// Deploys (or updates) a stack from a prepared compose document.
    func deploy(stack: String, compose: String) async throws
    func remove(stack: String) async throws
    /// Whether nothing of the stack is left on the manager.
    func isGone(stack: String) async throws -> Bool
    /// The tasks of `stack` (every stack when nil); with `all`, also those that ended.
    func tasks(stack: String?, all: Bool) async throws -> [StackTask]
}
