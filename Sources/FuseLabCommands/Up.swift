import ArgumentParser
import Foundation
import FuseLab

struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a lab (fails if a lab with this prefix exists; tears down what it made on failure).")

    @OptionGroup var options: PrefixOption
    @Option(name: .customLong("api-port"), help: "TCP port of the master's API, published on the crisis router's WAN address.")
    var apiPort: Int = LabAddressPlan.defaultAPIPort
    @Option(name: .customLong("wg-port"), help: "UDP port of the master's WireGuard, published on the crisis router's WAN address.")
    var wgPort: Int = LabAddressPlan.defaultWireGuardPort
    @Flag(name: .customLong("udp-blocked-domain"), help: "Also company C (worker c1, sensor), whose router lets no UDP out (see 'fuse-lab egress').")
    var udpBlockedDomain = false
    @Flag(help: "Print the lab description as JSON.")
    var json = false

    func run() throws {
        let clock = ContinuousClock()
        let start = clock.now
        let lab = try Lab.up(prefix: options.prefix, apiPort: apiPort, wgPort: wgPort, udpBlockedDomain: udpBlockedDomain)
        if json {
            printJSON(try lab.descriptionJSON())
        } else {
            let elapsed = clock.now - start
            print("lab '\(lab.prefix)' up in \(elapsed.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow))): \(lab.nodes.count) namespaces; master endpoint \(lab.masterEndpoint) (API tcp/\(lab.apiPort), WireGuard udp/\(lab.wgPort))")
            print("description: \(lab.topology.descriptionFile)")
        }
    }
}
