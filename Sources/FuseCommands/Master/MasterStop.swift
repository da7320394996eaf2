import ArgumentParser
import Foundation
import FuseAgent
import FuseControl
import FuseModel
import FuseSystem
import Logging
import ServiceLifecycle

struct MasterStop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop the control plane and the hub; the federation's state is kept for `fuse master start`.")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await Console.run {
            let config = try options.masterState.loadConfig()
            try Preconditions.root()
            let wasRunning = options.masterState.stop()
            await options.hostPlane.tearDown(interface: config.interface, TeardownScope(keepEngineData: true, registry: true))
            if options.json { Console.json(["stopped": wasRunning]) } else { print(wasRunning ? "master stopped" : "master was not running") }
        }
    }
}

extension MasterState {
    func pidOfRunningMaster() -> pid_t? {
        guard let pid = Daemon.pid(inFile: pidPath), Daemon.isAlive(pid), let arguments = Daemon.arguments(of: pid),
              arguments.dropFirst().starts(with: ["master", "run"])
        else { return nil }
        return pid
    }

    /// Stops the master process; returns whether it was running.
    func stop() -> Bool {
        guard let pid = pidOfRunningMaster() else { return false }
        Daemon.stop(pid, timeout: .seconds(5))
        try? FileManager.default.removeItem(atPath: pidPath)
        return true
    }

    func lastLogLine() -> String? { Daemon.lastLine(of: logPath) }
}
