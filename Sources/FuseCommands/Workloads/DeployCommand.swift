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
            Asks the control plane with the operator's credential: on the master, or from another host with \
            FUSE_MASTER, FUSE_CA_PIN and FUSE_ADMIN_CREDENTIAL. The file is checked before anything is deployed: images must be in the \
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
            let clock = StepClock(quiet: options.json)
            // The control plane checks the file, pins its images and answers when every task runs
            // (no progress line before: a refused file is one line on stderr, nothing else).
            let deployed: API.Deployed = try await Clients.with(try await Clients.admin(options, readTimeout: .seconds(timeout + 60))) {
                try await $0.call("POST", "/v1/stacks", body: API.DeployRequest(name: stack, compose: text, timeoutSeconds: timeout),
                                  timeout: .seconds(timeout + 60))
            }
            if options.json { return Console.json(DeployResult(stack: stack, seconds: clock.total, tasks: deployed.tasks)) }
            print(Console.table(PsCommand.header, deployed.tasks.map(PsCommand.row)))
            print(String(format: "stack %@ deployed in %.2f s", stack, clock.total))
        }
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
        abstract: "List the tasks of deployed stacks and the nodes (and domains) they run on (the operator's credential).")

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
            var query = all ? ["all=true"] : []
            if let stack { query.append("stack=" + Clients.urlComponent(stack)) }
            let tasks: [StackTask] = try await Clients.with(try await Clients.admin(options)) {
                try await $0.call("GET", "/v1/tasks" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
            }
            if options.json { return Console.json(tasks) }
            print(tasks.isEmpty ? "no tasks" : Console.table(Self.header, tasks.map(Self.row)))
        }
    }
}

struct UndeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "undeploy",
        abstract: "Remove a stack: its services, their containers on every node, and its networks (the operator's credential).")

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The stack's name.")
    var stack: String

    @Option(help: "Seconds to wait until nothing of the stack is left.")
    var timeout: Int = 60

    func run() async throws {
        try await Console.run {
            guard (1...3600).contains(timeout) else { throw CommandFailure("bad --timeout \(timeout): use 1 to 3600 seconds") }
            let clock = StepClock(quiet: options.json)
            // The control plane answers when nothing of the stack is left on the manager.
            let _: Data = try await Clients.with(try await Clients.admin(options, readTimeout: .seconds(timeout + 60))) {
                try await $0.raw("DELETE", "/v1/stacks/\(Clients.urlComponent(stack))?timeout=\(timeout)", body: nil, timeout: .seconds(timeout + 60))
            }
            if options.json { return Console.json(["undeployed": stack]) }
            print(String(format: "stack %@ removed in %.2f s", stack, clock.total))
        }
    }
}
