import ArgumentParser
import Foundation
import FuseAgent
import FuseModel

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Show, set and test the federation's policy: who may reach which node or exposure (on the master).",
        subcommands: [PolicyShow.self, PolicySet.self, PolicyTest.self])
}

struct PolicyShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print the policy in force.")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await Console.run {
            let info: API.PolicyInfo = try await Clients.with(try await Clients.admin(options)) { try await $0.call("GET", "/v1/policy") }
            if options.json { return Console.json(info) }
            Console.progress(info.isDefault ? "# the default policy (none was set)" : "# policy version \(info.version ?? 0)")
            print(info.text, terminator: info.text.hasSuffix("\n") ? "" : "\n")
        }
    }
}

struct PolicySet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Validate a policy file and store it as the new version; it is in force everywhere within a second.",
        discussion: "A file with an error is refused with the line it is on, and the old policy stays in force. See docs/policy.md.")

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The policy file (JSON), or - for stdin.")
    var file: String

    func run() async throws {
        try await Console.run {
            let text: String
            if file == "-" {
                text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            } else {
                do { text = try String(contentsOfFile: file, encoding: .utf8) } catch { throw CommandFailure("cannot read \(file): \(error.localizedDescription)") }
            }
            guard text.utf8.count <= 12 * 1024 else { throw CommandFailure("\(file) is over 12 KiB; a policy this large is not supported") }
            let info: API.PolicyInfo = try await Clients.with(try await Clients.admin(options)) {
                try await $0.call("PUT", "/v1/policy", body: API.PolicyBody(text: text))
            }
            if options.json { return Console.json(info) }
            if let pending = info.pendingOn, !pending.isEmpty {
                print("policy version \(info.version ?? 0) stored; not yet applied on: \(pending.joined(separator: ", "))")
            } else {
                print("policy version \(info.version ?? 0) in force on every online node")
            }
        }
    }
}

struct PolicyTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Would SRC reach DST on PORT? Answers allow/deny and the rule that decided, without sending traffic.",
        discussion: "SRC is a node; DST an exposure or a node (prefix exposure: or node: to be explicit). For icmp, give no port.")

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The source node.")
    var source: String

    @Argument(help: "The destination: an exposure or a node.")
    var destination: String

    @Argument(help: "The destination port (none for icmp).")
    var port: Int?

    @Option(name: .customLong("proto"), help: "tcp, udp or icmp.")
    var proto: String = "tcp"

    func run() async throws {
        try await Console.run {
            guard let proto = FlowProtocol(rawValue: proto.lowercased()) else { throw CommandFailure("bad --proto \(proto): use tcp, udp or icmp") }
            if proto != .icmp, port == nil { throw CommandFailure("give a PORT for \(proto.rawValue)") }
            let request = API.PolicyTestRequest(source: source, destination: destination,
                                                port: try port.map { try NameRule.port($0, kind: "destination") }, proto: proto)
            let decision: PolicyDecision = try await Clients.with(try await Clients.admin(options)) { try await $0.call("POST", "/v1/policy/test", body: request) }
            if options.json { return Console.json(decision) }
            print("\(decision.allowed ? "allow" : "deny") (\(decision.rule))")
        }
    }
}
