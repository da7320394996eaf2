import Foundation
import FuseAgent
import FuseControl
import FuseModel
import FuseSystem

/// The control plane's deployments on the master's own engine (the Swarm manager) and the
/// federation's registry: reads through the registry's pull side, writes through its push side
/// on the master's loopback (which no node can reach).
struct EngineWorkloads: WorkloadEngine {
    let cli: DockerCLI
    /// The registry's pull side, `VPN_ADDRESS:5000`.
    let registry: String
    let uploadDirectory: String
    /// An image archive may be large; the master's disk is the real bound.
    var uploadLimit: Int { 8 << 30 }

    var stacksOnManager: SwarmStacks { SwarmStacks(cli: cli) }

    func images() async throws -> [String] {
        let catalogue = try await RegistryClient(host: registry).catalogue()
        return catalogue.keys.sorted().flatMap { repository in catalogue[repository, default: []].map { "\(repository):\($0)" } }
    }

    func digest(of image: ImageReference) async throws -> String? {
        try await RegistryClient(host: registry).digest(image)
    }

    func addImage(archive: String, format: API.ImageArchiveFormat, source: String?, as image: ImageReference) async throws {
        try await BlockingWork.run { try addImageNow(archive: archive, format: format, source: source, as: image) }
    }

    private func addImageNow(archive: String, format: API.ImageArchiveFormat, source: String?, as image: ImageReference) throws {
        do {
            switch format {
            case .rootfs:
                try cli.run(["import", archive, image.description])
            case .dockerArchive:
                try cli.run(["load", "-q", "-i", archive])
                try cli.run(["tag", source ?? image.description, image.description])
            }
        } catch {
            throw WorkloadError.imageRefused(oneLine(error))
        }
        // Pushed under a tag used for this push only, through the registry's loopback side.
        let pushName = ImageReference(registry: SwarmPorts.registryPushHost, repository: image.repository, tag: image.tag).description
        try cli.run(["tag", image.description, pushName])
        defer { _ = try? cli.result(["rmi", pushName]) }
        try cli.run(["push", "-q", pushName])
    }

    func stacks() async throws -> [String] { try await BlockingWork.run { try stacksOnManager.stacks() } }

    func deploy(stack: String, compose: String) async throws {
        try await BlockingWork.run { try deployNow(stack: stack, compose: compose) }
    }

    private func deployNow(stack: String, compose: String) throws {
        let path = "\(uploadDirectory)/deploy-\(stack).yml"
        try FileManager.default.createDirectory(atPath: uploadDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(compose.utf8).write(to: URL(fileURLWithPath: path))
        try stacksOnManager.deploy(stack: stack, composeFile: path)
    }

    func remove(stack: String) async throws { try await BlockingWork.run { try stacksOnManager.remove(stack: stack) } }

    func isGone(stack: String) async throws -> Bool { try await BlockingWork.run { try stacksOnManager.isGone(stack: stack) } }

    func tasks(stack: String?, all: Bool) async throws -> [StackTask] {
        try await BlockingWork.run { try stacksOnManager.tasks(stack: stack, all: all) }
    }
}
