import Foundation
import FuseAgent
import FuseControl
import FuseModel
import FuseSystem

/// What the operator's workload commands use on the master: the master's engine (the Swarm
/// manager) and the federation's registry.
struct WorkloadContext {
    let config: MasterConfig
    let cli: DockerCLI
    let registry: String

    var stacks: SwarmStacks { SwarmStacks(cli: cli) }
    var registryClient: RegistryClient { RegistryClient(host: registry) }

    static func load(_ options: GlobalOptions) throws -> WorkloadContext {
        guard options.masterState.exists else {
            throw CommandFailure("no federation master in \(options.stateDir): workloads are managed on the master (use its --state-dir)")
        }
        let config = try options.masterState.loadConfig()
        try Preconditions.root()
        guard config.engineCIDR != nil else { throw CommandFailure("federation \(config.federation) runs no workloads (it was created with --no-workloads)") }
        guard let master = config.cidr.firstHost else { throw CommandFailure("the federation's range has no master address") }
        let cli = options.nodeState.engine(interface: config.interface).cli
        guard cli.isResponding else { throw CommandFailure("the master's engine is not running: `fuse master start` first") }
        return WorkloadContext(config: config, cli: cli, registry: SwarmPorts.registryHost(master: master))
    }

    /// A scratch file under the master's state dir, removed after `body`.
    func withScratchFile<T>(_ name: String, _ options: GlobalOptions, _ body: (String) async throws -> T) async throws -> T {
        let path = options.nodeState.directory + "/" + name
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await body(path)
    }
}
