import ArgumentParser
import Foundation
import FuseAgent
import FuseControl
import FuseModel
import FuseSystem
import Logging

public struct FuseCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "fuse",
        abstract: "Join the devices of several organisations into one secure federation.",
        discussion: """
            A master (`fuse master init` + `fuse master start`) runs the control plane and the \
            WireGuard hub; nodes join with a token (`fuse token create` on the master, then \
            `fuse join` on the node) and leave without a trace (`fuse leave`).
            """,
        subcommands: [MasterCommand.self, TokenCommand.self, JoinCommand.self, LeaveCommand.self,
                      StatusCommand.self, NodesCommand.self, NodeCommand.self, ExposeCommand.self, UnexposeCommand.self,
                      ServicesCommand.self, PolicyCommand.self, ImageCommand.self, DeployCommand.self, PsCommand.self,
                      UndeployCommand.self, AgentCommand.self, DashboardCommand.self])

    public init() {}
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Where FUSE keeps its state (env FUSE_STATE_DIR).", valueName: "dir"))
    var stateDir: String = ProcessInfo.processInfo.environment["FUSE_STATE_DIR"] ?? "/var/lib/fuse"

    @Flag(name: .long, help: "Print machine-readable JSON on stdout.")
    var json = false

    @Flag(name: .long, help: "Log debug details on stderr.")
    var debug = false

    var nodeState: NodeState { NodeState(stateDir: stateDir) }
    var masterState: MasterState { MasterState(stateDir: stateDir) }
    /// The real host, for the commands that run on the master's host.
    var hostPlane: LinuxHostPlane { LinuxHostPlane(state: nodeState, logger: logger("fuse.host")) }

    func logger(_ label: String, daemon: Bool = false) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = debug ? .debug : (daemon ? .info : .warning)
        return logger
    }

    func validate() throws {
        guard !stateDir.isEmpty else { throw ValidationError("--state-dir must not be empty") }
    }
}

/// A failure of a command: printed as one line on stderr, exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum Console {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data("fuse: error: \(message)\n".utf8))
    }

    /// Progress for people, on stderr (stdout stays clean for --json).
    static func progress(_ message: String) {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }

    /// One step of a long operation, as people read it on stderr.
    static func render(_ event: LocalAPI.Event) {
        switch event.kind {
        case .begin: progress("… \(event.message)")
        case .done: progress(String(format: "✓ %@ (%.2f s)", event.message, event.seconds ?? 0))
        case .note: progress(event.message)
        case .result, .error: break
        }
    }

    static func json(_ value: some Encodable) {
        let encoder = API.prettyEncoder()
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        print(String(decoding: data, as: UTF8.self))
    }

    /// Runs a command body; any error becomes one line on stderr and exit status 1.
    static func run(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as ExitCode {
            throw error
        } catch {
            Self.error(oneLine(error))
            throw ExitCode.failure
        }
    }

    static func oneLine(_ error: any Error) -> String {
        "\(error)".split(separator: "\n").joined(separator: " ")
    }

    /// A plain text table with aligned columns.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}

enum Preconditions {
    static func root() throws {
        guard geteuid() == 0 else { throw CommandFailure("this command changes network interfaces and must run as root") }
    }

    /// wireguard-go is needed unless the kernel's WireGuard will be used.
    static func wireGuardGo() throws {
        let mode = ProcessInfo.processInfo.environment["FUSE_WIREGUARD"] ?? "auto"
        if mode == "kernel" || (mode != "userspace" && KernelWireGuard.isAvailable()) { return }
        try UserspaceWireGuard.checkInstalled()
    }

    /// A node that runs workloads needs Debian's Docker engine (and the master its registry).
    static func workloads(master: Bool) throws {
        var missing: [String] = []
        if Executables.find("dockerd") == nil || DockerCLI.locate() == nil { missing.append("docker.io") }
        if master, Executables.find("docker-registry") == nil { missing.append("docker-registry") }
        guard missing.isEmpty else {
            throw CommandFailure("workloads need \(missing.joined(separator: " and ")) (apt-get install \(missing.joined(separator: " "))), or run without workloads (--no-workloads)")
        }
    }
}

/// The CLI's own long operations print their steps on stderr (unless `--json`), as the
/// daemon's streamed steps are printed.
typealias StepClock = Steps

extension Steps {
    convenience init(quiet: Bool) {
        self.init(sink: { event in if !quiet { Console.render(event) } })
    }
}

/// The operator's client of the control plane (on the master, or from another host with
/// `FUSE_MASTER`, `FUSE_CA_PIN` and `FUSE_ADMIN_CREDENTIAL`), or a node's client.
enum Clients {
    /// On the master: the local control plane with the credential in its state dir. Elsewhere,
    /// when `FUSE_MASTER` is set: that master, once its CA matches `FUSE_CA_PIN`.
    static func admin(_ options: GlobalOptions, readTimeout: Duration = .seconds(90)) async throws -> ControlPlaneClient {
        let state = options.masterState
        if !state.exists, let remote = RemoteOperator(environment: ProcessInfo.processInfo.environment) {
            return try await remote.client(readTimeout: readTimeout)
        }
        let config = try state.loadConfig()
        return try ControlPlaneClient(host: "127.0.0.1", port: config.apiPort, caPEM: try state.caPEM(), credential: try state.adminCredential(),
                                      readTimeout: readTimeout)
    }

    /// The operator's client on the master (or a remote operator's), else the node's client.
    static func any(_ options: GlobalOptions) async throws -> ControlPlaneClient {
        if options.masterState.exists || RemoteOperator(environment: ProcessInfo.processInfo.environment) != nil { return try await admin(options) }
        let state = options.nodeState
        let config = try state.loadConfig()
        return try ControlPlaneClient(host: config.masterHost, port: config.apiPort, caPEM: try state.caPEM(), credential: config.credential)
    }

    /// A value for a URL's path or query, percent-encoded.
    static func urlComponent(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:")

    /// Runs `body` with a client and shuts the client down afterwards.
    static func with<T>(_ client: ControlPlaneClient, _ body: (ControlPlaneClient) async throws -> T) async throws -> T {
        do {
            return try await ControlPlaneClient.using(client, body)
        } catch ClientError.unreachable(let message), ClientError.refused(let message) {
            throw CommandFailure("\(message) (is the control plane running? `fuse master start` on the master)")
        }
    }
}

extension FuseCommand {
    static let subcommandNames: Set<String> = Set(configuration.subcommands.flatMap { command in
        [command._commandName] + command.configuration.subcommands.map { $0._commandName }
    })

    /// The executable's entry point: like `main()`, but a usage error is one line on stderr too
    /// (ArgumentParser would print the usage below it), pointing at `--help`.
    public static func entry() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            guard code != .success, !(error is ExitCode) else { exit(withError: error) }
            let message = fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            let trimmed = message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message
            let path = arguments.prefix { subcommandNames.contains($0) }.joined(separator: " ")
            Console.error("\(trimmed) (see `fuse \(path.isEmpty ? "" : path + " ")--help`)")
            Foundation.exit(code.rawValue)
        }
    }
}
