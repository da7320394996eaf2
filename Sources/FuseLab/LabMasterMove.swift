import Foundation
import FuseModel
import FuseSystem

extension Lab {
    /// Gives the master's domain router a second public address on which the master's ports
    /// (API and WireGuard) are forwarded to `hostId`, another host of that domain: where a
    /// master moved to that host answers (`fuse master set-endpoint`, backup, restore).
    /// Returns the new address. Requires root; the lab's teardown removes it with the router.
    public func publishMasterPorts(on hostId: String) throws -> String {
        let host = try node(hostId)
        guard let masterDomain = topology.node(topology.masterNodeId)?.domain, host.domain == masterDomain,
              let domain = topology.domains.first(where: { $0.name == masterDomain }), let router = topology.router(of: domain),
              let lanAddress = host.lanAddress, let routerPort = host.routerPort,
              let current = IPv4Address(domain.routerWANAddress)
        else { throw LabError("\(hostId) is not a host of the master's domain") }
        // The next address of the router's link (the link is a /24; the WAN side has .1, the router .2).
        let address = IPv4Address(current.value + 1).description
        let ruleset = renderRouterRuleset(table: LabAddressPlan.routerTable + "moved", wanAddress: address, lan: domain.lan,
                                          forwards: [("tcp", topology.apiPort, lanAddress), ("udp", topology.wgPort, lanAddress)])
        try runner.check(["ip", "-n", router.namespace, "addr", "add", "\(address)/\(LabAddressPlan.routerLinkPrefixLength)",
                          "dev", LabAddressPlan.routerWANLink])
        // The host reaches its own public address too (hairpin NAT), as the master's does.
        try runner.check(["ip", "-n", router.namespace, "link", "set", routerPort, "type", "bridge_slave", "hairpin", "on"])
        try runner.check(nsenterArguments(namespace: router.namespace) + ["nft", "-f", "-"], input: ruleset)
        return address
    }

    /// Forgets the connections that the router of `hostId`'s domain tracks (requires root and
    /// `conntrack`), as the router of a host that never saw the old master would be: its NAT
    /// would otherwise keep giving the old master's flows' ports to the moved master.
    public func forgetTrackedConnections(aroundHost hostId: String) throws {
        guard let domainName = try node(hostId).domain, let domain = topology.domains.first(where: { $0.name == domainName }),
              let router = topology.router(of: domain)
        else { throw LabError("\(hostId) is in no domain") }
        _ = try runner.run(nsenterArguments(namespace: router.namespace) + ["conntrack", "-F"], input: nil, environment: nil)
    }
}
