import ArgumentParser
import Foundation
import FuseAgent
import FuseControl
import FuseMaster
import FuseModel
import FuseSystem
import Logging
import ServiceLifecycle

struct MasterInit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a federation: its CA, store, settings and the master's own node.")

    @OptionGroup var options: GlobalOptions

    @Option(help: "The federation's name.")
    var name: String

    @Option(help: "Address (IPv4 or DNS name) at which nodes reach the master's API and WireGuard ports.")
    var endpoint: String

    @Option(help: "The federation's VPN address range; the master takes its first address.")
    var vpnCidr: String = "100.64.0.0/16"

    @Option(help: "TCP port of the control plane's HTTPS API.")
    var apiPort: Int = 7443

    @Option(help: "UDP port of the master's WireGuard hub.")
    var wgPort: Int = 51820

    @Option(help: "The master's domain (default: the federation's name).")
    var domain: String?

    @Option(help: "The master's node name.")
    var nodeName: String = "master"

    @Option(help: "Range from which every node's container engine gets a /24 for its bridges (default: the first of 10.213.0.0/16, 10.214.0.0/16, 172.29.0.0/16, 172.30.0.0/16, 198.18.0.0/16, 198.19.0.0/16 that overlaps no other range).")
    var engineCidr: String?

    @Option(help: "Range from which Docker Swarm gives each deployment's overlay network a /24 (default: the next free one of that list).")
    var overlayCidr: String?

    @Flag(help: "A federation without container workloads: no engine, Swarm or registry on any node.")
    var noWorkloads = false

    @Option(help: "WireGuard interface name (env FUSE_INTERFACE).")
    var interface: String = ProcessInfo.processInfo.environment["FUSE_INTERFACE"] ?? "fuse0"

    func run() async throws {
        try await Console.run {
            let federation = try NameRule.label(name, kind: "federation")
            var config = MasterConfig(
                federation: federation, domain: try NameRule.label(domain ?? federation, kind: "domain"),
                nodeName: try NameRule.label(nodeName, kind: "node"), endpoint: try NameRule.host(endpoint),
                cidr: try IPv4CIDR(parsing: vpnCidr), apiPort: try NameRule.port(apiPort, kind: "API"),
                wireGuardPort: try NameRule.port(wgPort, kind: "WireGuard"), interface: try NameRule.interface(interface),
                adminCredentialDigest: "",
                engineCIDR: nil, overlayCIDR: nil)
            if !noWorkloads {
                (config.engineCIDR, config.overlayCIDR) = try WorkloadRanges.choose(
                    vpn: config.cidr, engine: try engineCidr.map { try IPv4CIDR(parsing: $0) }, overlay: try overlayCidr.map { try IPv4CIDR(parsing: $0) })
            } else if engineCidr != nil || overlayCidr != nil {
                throw CommandFailure("--engine-cidr and --overlay-cidr are for workloads; leave them out with --no-workloads")
            }
            _ = try AddressAllocator(cidr: config.cidr)
            if !noWorkloads { try Preconditions.workloads(master: true) }
            let nodeState = options.nodeState
            guard !nodeState.exists else {
                throw CommandFailure("\(options.stateDir) already holds a node of a federation; use another --state-dir or `fuse leave` first")
            }
            guard !options.masterState.exists else {
                throw CommandFailure("a federation master already exists in \(options.stateDir); `fuse master destroy` it first")
            }
            try MasterSetup.create(config, master: options.masterState, node: nodeState)
            let pin = try options.masterState.caPin()
            if options.json {
                Console.json(InitResult(federation: config.federation, cidr: config.cidr, endpoint: config.endpoint, apiPort: config.apiPort,
                                        wireGuardPort: config.wireGuardPort, masterAddress: config.cidr.firstHost?.description ?? "", caPin: pin))
            } else {
                print("federation \(config.federation) created in \(options.stateDir)")
                print("  VPN range \(config.cidr), master \(config.nodeName) at \(config.cidr.firstHost?.description ?? "")")
                print("  endpoint \(config.endpoint), API port \(config.apiPort)/tcp, WireGuard port \(config.wireGuardPort)/udp")
                print("  CA pin sha256:\(pin)")
                print("next: fuse master start")
            }
        }
    }

    struct InitResult: Encodable {
        let federation: String
        let cidr: IPv4CIDR
        let endpoint: String
        let apiPort: UInt16
        let wireGuardPort: UInt16
        let masterAddress: String
        let caPin: String
    }
}
