import ArgumentParser
import Foundation
import FuseAgent
import FuseControl
import FuseMaster
import FuseModel
import FuseSystem
import Logging
import ServiceLifecycle

/// The master process: control plane + the master's own agent, in the foreground.
struct MasterRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the control plane and the master's node in the foreground (for systemd and tests).")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await Console.run {
            let state = options.masterState
            _ = try state.loadConfig()
            try Preconditions.root()
            LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
            let agentLogger = options.logger("fuse.agent", daemon: true)
            try await MasterProcess(state: state, nodeState: options.nodeState, host: LinuxHostPlane(state: options.nodeState, logger: agentLogger),
                                    logger: options.logger("fuse.master", daemon: true), agentLogger: agentLogger).run()
        }
    }
}

