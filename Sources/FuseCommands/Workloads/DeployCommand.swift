import ArgumentParser
import Foundation
import FuseAgent
import FuseModel
import FuseSystem

struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Deploy a compose file as a stack on the federation's Swarm; returns when every task runs.",
        discussion: """
            Runs on the master. The file is checked before anything is deployed: images must be in the \
            federation's registry (`fuse image import|push`), placement must name known domains or nodes \
            (`node.labels.fuse.domain == companyA`, `node.labels.fuse.node == a1`, or the shorthand \
            `x-fuse-domain: companyA` in a service), host bind mounts and privileged settings are refused. \
            Services default to endpoint_mode dnsrr and host-mode ports; networks are attachable overlays \
            with the tunnel's MTU. A new stack that does not come up within --timeout is removed again.
            """)

    @OptionGroup var options: GlobalOptions

    @Option(name: .shortAndLong, help: "The compose file (- for stdin).")
    var file: String

    @Option(help: "The stack's name (default: the file's name without extension).")
    var name: String?

    @Option(help: "Seconds to wait for every task to run.")
    var timeout: Int = 120

    func run() async throws {
        try await Console.run {
            guard (1...3600).contains(timeout) else { throw CommandFailure("bad --timeout \(timeout): use 1 to 3600 seconds") }
            let stack = name ?? Self.defaultName(file)
            try Compose.validateStackName(stack)
            let text: String
            if file == "-" {
                text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            } else {
                do { text = try String(contentsOfFile: file, encoding: .utf8) } catch { throw CommandFailure("cannot read \(file)") }
            }
            let context = try WorkloadContext.load(options)
            let clock = StepClock(quiet: options.json)
            let nodes: [API.NodeInfo] = try await Clients.with(try Clients.admin(options)) { try await $0.call("GET", "/v1/nodes") }
            let workers = nodes.filter(\.workloads)
            let catalogue = PlacementCatalogue(domains: Array(Set(workers.map(\.domain))).sorted(), nodes: workers.map(\.name).sorted())
            // Every image is pinned to the digest its tag has now: what runs is what the
            // operator checked, whatever happens to the tag later.
            var digests: [ImageReference: String] = [:]
            for image in try Compose.prepare(yaml: text, catalogue: catalogue, registry: context.registry).images {
                guard let digest = try await context.registryClient.digest(image) else {
                    throw CommandFailure("image \(image.repository):\(image.tag) is not in the federation's registry; add it with `fuse image import` or `fuse image push`")
                }
                digests[image] = digest
            }
            let prepared = try Compose.prepare(yaml: text, catalogue: catalogue, registry: context.registry, digests: digests)
            let isNew = try !context.stacks.stacks().contains(stack)
            clock.begin("deploying stack \(stack) (\(prepared.services.count) service(s))")
            do {
                try await context.withScratchFile("deploy-\(stack).yml", options) { path in
                    try Data(prepared.yaml.utf8).write(to: URL(fileURLWithPath: path))
                    try context.stacks.deploy(stack: stack, composeFile: path)
                }
                let tasks = try await waitUntilRunning(stack: stack, services: prepared.services, context: context)
                clock.done("every task runs")
                if options.json { return Console.json(DeployResult(stack: stack, seconds: clock.total, tasks: tasks)) }
                print(Console.table(PsCommand.header, tasks.map(PsCommand.row)))
                print(String(format: "stack %@ deployed in %.2f s", stack, clock.total))
            } catch {
                // Nothing half-deployed: a new stack that failed goes again.
                if isNew {
                    _ = try? context.stacks.remove(stack: stack)
                    _ = await waitFor(.seconds(30), every: .milliseconds(200)) { (try? context.stacks.isGone(stack: stack)) ?? true }
                }
                throw CommandFailure("\(Console.oneLine(error))\(isNew ? "; the stack was removed again" : "")")
            }
        }
    }

    /// Waits until each service has a running task and none is starting; reports the tasks.
    private func waitUntilRunning(stack: String, services: [String], context: WorkloadContext) async throws -> [StackTask] {
        var tasks: [StackTask] = []
        let ready = await waitFor(.seconds(timeout), every: .milliseconds(100)) {
            tasks = (try? context.stacks.tasks(stack: stack)) ?? []
            let running = Set(tasks.filter { $0.state == "running" }.map(\.service))
            return services.allSatisfy { running.contains("\(stack)_\($0)") } && tasks.allSatisfy { $0.state == "running" }
        }
        guard ready else {
            let all = (try? context.stacks.tasks(stack: stack, all: true)) ?? tasks
            let problem = all.compactMap { task in task.error.map { "\(task.service): \($0)" } }.last
                ?? all.first { $0.state != "running" }.map { "\($0.service) is \($0.state)" } ?? "no task was scheduled"
            throw CommandFailure("stack \(stack) did not run within \(timeout) s: \(problem)")
        }
        return tasks
    }

    static func defaultName(_ file: String) -> String {
        guard file != "-" else { return "stack" }
        let base = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        return base.lowercased()
    }

    struct DeployResult: Encodable {
        let stack: String
        let seconds: Double
        let tasks: [StackTask]
    }
}

struct PsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "List the tasks of deployed stacks and the nodes (and domains) they run on.")

    @OptionGroup var options: GlobalOptions

    @Argument(help: "Only this stack.")
    var stack: String?

    @Flag(help: "Also tasks that ended.")
    var all = false

    static let header = ["STACK", "SERVICE", "TASK", "NODE", "DOMAIN", "STATE", "ERROR"]

    static func row(_ task: StackTask) -> [String] {
        [task.stack, task.service, String(task.id.prefix(12)), task.node ?? "-", task.domain ?? "-", task.state, task.error ?? ""]
    }

    func run() async throws {
        try await Console.run {
            let context = try WorkloadContext.load(options)
            if let stack, try !context.stacks.stacks().contains(stack) { throw CommandFailure("no stack named \(stack)") }
            let tasks = try context.stacks.tasks(stack: stack, all: all)
            if options.json { return Console.json(tasks) }
            print(tasks.isEmpty ? "no tasks" : Console.table(Self.header, tasks.map(Self.row)))
        }
    }
}

struct UndeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "undeploy",
        abstract: "Remove a stack: its services, their containers on every node, and its networks.")

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The stack's name.")
    var stack: String

    @Option(help: "Seconds to wait until nothing of the stack is left.")
    var timeout: Int = 60

    func run() async throws {
        try await Console.run {
            let context = try WorkloadContext.load(options)
            guard try context.stacks.stacks().contains(stack) else { throw CommandFailure("no stack named \(stack)") }
            let clock = StepClock(quiet: options.json)
            clock.begin("removing stack \(stack)")
            try context.stacks.remove(stack: stack)
            let gone = await waitFor(.seconds(timeout), every: .milliseconds(200)) { (try? context.stacks.isGone(stack: stack)) ?? false }
            guard gone else { throw CommandFailure("stack \(stack) was not gone within \(timeout) s; see `fuse ps \(stack) --all`") }
            clock.done("removed")
            if options.json { return Console.json(["undeployed": stack]) }
            print(String(format: "stack %@ removed in %.2f s", stack, clock.total))
        }
    }
}
