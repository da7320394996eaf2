import ArgumentParser
import Foundation
import FuseAgent
import FuseModel

struct LeaveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leave",
        abstract: "Leave the federation: deregister, stop the agent and remove everything FUSE created on this host.")

    @OptionGroup var options: GlobalOptions

    @Flag(help: "Leave even when the master cannot be reached (it keeps the node until `fuse node remove`).")
    var force = false

    func run() async throws {
        try await Console.run {
            guard !options.masterState.exists else { throw CommandFailure("this is the federation's master: use `fuse master destroy`") }
            _ = try options.nodeState.loadConfig()
            try Preconditions.root()
            // The node's daemon does the leave (and then exits); it is started if it was not running.
            let (result, pid) = try await NodeDaemons.run(options, "/leave", body: LocalAPI.LeaveRequest(force: force), timeout: .seconds(300),
                                                          as: LocalAPI.LeaveResult.self)
            await NodeDaemons.waitForExit(pid)
            if options.json { return Console.json(result) }
            print(String(format: "%@ left the federation in %.2f s%@; nothing of FUSE is left on this host", result.node, result.seconds,
                         result.deregistered ? "" : " (the master was unreachable: remove the node there with `fuse node remove \(result.node)`)"))
        }
    }
}
