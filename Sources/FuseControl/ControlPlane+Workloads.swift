import Foundation
import FuseModel
import FuseSystem

/// Deployments on the operator's behalf: images into the federation's registry, stacks on its
/// Swarm, their tasks. Compose files are checked and their images pinned to digests here
/// (`Compose.prepare`), so that every client gets the same rules.
extension ControlPlane {
    func requireWorkloads() throws -> any WorkloadEngine {
        guard let workloads else { throw WorkloadError.noWorkloads(federation: config.federation) }
        return workloads
    }

    /// The registry's pull side, as deployments name images (`VPN_ADDRESS:5000`).
    var registryHost: String {
        get throws {
            guard let master = config.cidr.firstHost else { throw WorkloadError.engine("the federation's range has no master address") }
            return SwarmPorts.registryHost(master: master)
        }
    }

    /// Runs a call of the engine; what it throws that is not a refusal of ours is the engine's failure.
    private func engine<T>(_ body: (any WorkloadEngine) async throws -> T) async throws -> T {
        let engine = try requireWorkloads()
        do { return try await body(engine) } catch let error as WorkloadError { throw error } catch let full as StorageFull { throw full } catch {
            throw WorkloadError.engine(oneLine(error))
        }
    }

    // MARK: Images

    public func images() async throws -> [String] {
        try await engine { try await $0.images() }
    }

    /// Checks an image upload before its body is read: the target's name and the name inside a
    /// `docker-archive`. Nothing is changed.
    public func imageUpload(name: String, format: API.ImageArchiveFormat, source: String?) throws -> (image: ImageReference, source: String?) {
        _ = try requireWorkloads()
        let image: ImageReference
        do { image = try Compose.imageReference(name, registry: try registryHost) } catch let error as ComposeError { throw WorkloadError.invalid(error.description) }
        guard format == .dockerArchive else { return (image, nil) }
        let inside = source ?? name
        guard inside.wholeMatch(of: #/[A-Za-z0-9][A-Za-z0-9._\/:@-]{0,254}/#) != nil else { throw WorkloadError.badSource(inside) }
        return (image, inside)
    }

    /// Puts an uploaded archive into the registry (through its loopback push side, which only
    /// the master itself can reach).
    public func addImage(_ image: ImageReference, format: API.ImageArchiveFormat, source: String?, archive: String) async throws -> API.ImageAdded {
        try await engine { try await $0.addImage(archive: archive, format: format, source: source, as: image) }
        let short = "\(image.repository):\(image.tag)"
        logger.info("image added", metadata: ["image": "\(short)", "format": "\(format.rawValue)"])
        return API.ImageAdded(image: short, reference: image.description)
    }

    // MARK: Stacks

    /// Checks the compose file, pins its images, deploys it and waits until every task runs; a
    /// new stack that fails is removed again.
    public func deploy(_ request: API.DeployRequest) async throws -> API.Deployed {
        guard (1...3600).contains(request.timeoutSeconds) else { throw WorkloadError.badTimeout(request.timeoutSeconds) }
        let engine = try requireWorkloads()
        let stack = request.name
        let registry = try registryHost
        let workers = try store.nodes().filter(\.runsWorkloads)
        let catalogue = PlacementCatalogue(domains: Array(Set(workers.map(\.domain))).sorted(), nodes: workers.map(\.name).sorted())
        let images: [ImageReference]
        do {
            try Compose.validateStackName(stack)
            images = try Compose.prepare(yaml: request.compose, catalogue: catalogue, registry: registry).images
        } catch { throw WorkloadError.invalid(oneLine(error)) }
        // Every image is pinned to the digest its tag has now: what runs is what the operator
        // checked, whatever happens to the tag later.
        var digests: [ImageReference: String] = [:]
        for image in images {
            guard let digest = try await self.engine({ try await $0.digest(of: image) }) else {
                throw WorkloadError.imageMissing("\(image.repository):\(image.tag)")
            }
            digests[image] = digest
        }
        let prepared: PreparedStack
        do { prepared = try Compose.prepare(yaml: request.compose, catalogue: catalogue, registry: registry, digests: digests) } catch {
            throw WorkloadError.invalid(oneLine(error))
        }
        let existing = try await self.engine { try await $0.stacks() }
        let isNew = !existing.contains(stack)
        logger.info("deploying stack", metadata: ["stack": "\(stack)", "services": "\(prepared.services.count)", "new": "\(isNew)"])
        do {
            try await engine.deploy(stack: stack, compose: prepared.yaml)
            let tasks = try await waitUntilRunning(stack: stack, services: prepared.services, timeout: request.timeoutSeconds, engine: engine)
            logger.info("stack deployed", metadata: ["stack": "\(stack)", "tasks": "\(tasks.count)"])
            return API.Deployed(stack: stack, services: prepared.services, tasks: tasks)
        } catch {
            // Nothing half-deployed: a new stack that failed goes again.
            if isNew {
                try? await engine.remove(stack: stack)
                _ = await waitFor(.seconds(30), every: .milliseconds(200)) { (try? await engine.isGone(stack: stack)) ?? true }
            }
            logger.warning("deployment failed", metadata: ["stack": "\(stack)", "error": "\(oneLine(error))", "removed": "\(isNew)"])
            throw WorkloadError.deployFailed(reason: oneLine(error), timedOut: error is NotRunning, removed: isNew)
        }
    }

    /// A stack's tasks that did not all run in time, and why.
    private struct NotRunning: Error, CustomStringConvertible {
        let stack: String
        let seconds: Int
        let problem: String
        var description: String { "stack \(stack) did not run within \(seconds) s: \(problem)" }
    }

    /// Waits until each service has a running task and none is starting; returns the tasks.
    private func waitUntilRunning(stack: String, services: [String], timeout: Int, engine: any WorkloadEngine) async throws -> [StackTask] {
        var tasks: [StackTask] = []
        let ready = await waitFor(.seconds(timeout), every: .milliseconds(100)) {
            tasks = (try? await engine.tasks(stack: stack, all: false)) ?? []
            let running = Set(tasks.filter { $0.state == "running" }.map(\.service))
            return services.allSatisfy { running.contains("\(stack)_\($0)") } && tasks.allSatisfy { $0.state == "running" }
        }
        guard ready else {
            let all = (try? await engine.tasks(stack: stack, all: true)) ?? tasks
            let problem = all.compactMap { task in task.error.map { "\(task.service): \($0)" } }.last
                ?? all.first { $0.state != "running" }.map { "\($0.service) is \($0.state)" } ?? "no task was scheduled"
            throw NotRunning(stack: stack, seconds: timeout, problem: problem)
        }
        return tasks
    }

    /// The tasks of one stack (which must exist) or of every stack.
    public func tasks(stack: String?, all: Bool) async throws -> [StackTask] {
        try await engine { engine in
            if let stack, try await !engine.stacks().contains(stack) { throw WorkloadError.noStack(stack) }
            return try await engine.tasks(stack: stack, all: all)
        }
    }

    /// Removes a stack and waits until nothing of it is left on the manager.
    public func undeploy(_ stack: String, timeoutSeconds: Int) async throws {
        guard (1...3600).contains(timeoutSeconds) else { throw WorkloadError.badTimeout(timeoutSeconds) }
        try await engine { engine in
            guard try await engine.stacks().contains(stack) else { throw WorkloadError.noStack(stack) }
            try await engine.remove(stack: stack)
            let gone = await waitFor(.seconds(timeoutSeconds), every: .milliseconds(200)) { (try? await engine.isGone(stack: stack)) ?? false }
            guard gone else { throw WorkloadError.notGone(stack: stack, seconds: timeoutSeconds) }
        }
        logger.info("stack removed", metadata: ["stack": "\(stack)"])
    }
}
