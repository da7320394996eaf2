import ArgumentParser
import Foundation
import FuseModel

struct MasterSetEndpoint: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-endpoint",
        abstract: "Change where nodes find the master (its public address or DNS name); every node follows within seconds.",
        discussion: """
            The running master pushes HOST to every node in its map: from then on nodes dial the \
            hub at HOST and look for the control plane there (the ports stay), and new join \
            strings name it. To move the master to another host: `fuse master set-endpoint NEW`, \
            `fuse master backup FILE`, `fuse master stop`; on the new host (reachable at NEW) \
            `fuse master restore FILE` and `fuse master start`. Nodes reconnect by themselves; \
            none re-joins. With a DNS name as the endpoint, changing the name's address is \
            enough: nodes resolve it again every few seconds.
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The new endpoint: an IPv4 address or a DNS name, without a port.")
    var host: String

    func run() async throws {
        try await Console.run {
            let info: API.EndpointInfo = try await Clients.with(try await Clients.admin(options)) {
                try await $0.call("PUT", "/v1/settings/endpoint", body: API.EndpointBody(endpoint: host))
            }
            if options.json { return Console.json(info) }
            if info.endpoint == info.previous {
                print("the endpoint is \(info.endpoint) already; nothing changed")
            } else {
                print("endpoint changed from \(info.previous) to \(info.endpoint) (map version \(info.mapVersion)); nodes now dial \(info.endpoint):\(info.wireGuardPort) and look for the control plane at \(info.endpoint):\(info.apiPort)")
            }
        }
    }
}
