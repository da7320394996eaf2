import ArgumentParser
import Foundation
import FuseAgent
import FuseControl
import FuseModel
import FuseSystem
import Logging
import ServiceLifecycle

struct MasterDestroy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "destroy",
        abstract: "The master's leave: stop everything and remove every trace of the federation from this host.")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await Console.run {
            let clock = StepClock(quiet: true)
            let config = try options.masterState.loadConfig()
            try Preconditions.root()
            _ = options.masterState.stop()
            options.masterState.removeAll()
            await NodeTeardown(state: options.nodeState, host: options.hostPlane).all(interface: config.interface, registry: true)
            if options.json {
                Console.json(["destroyed": config.federation, "seconds": String(format: "%.3f", clock.total)])
            } else {
                print(String(format: "federation %@ destroyed in %.2f s; nothing of it is left on this host", config.federation, clock.total))
            }
        }
    }
}
