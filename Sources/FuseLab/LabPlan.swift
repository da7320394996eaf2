import Foundation

/// One host command of a lab plan, with optional standard input (e.g. an nft ruleset).
public struct LabCommand: Equatable, Sendable, CustomStringConvertible {
    public let argv: [String]
    public let input: String?
    public init(_ argv: [String], input: String? = nil) {
        self.argv = argv
        self.input = input
    }
    public var description: String { argv.joined(separator: " ") }
}

/// The argv prefix that runs a program in a named network namespace. `nsenter --net` only
/// switches the network namespace; `ip netns exec` would also remount /sys, which breaks
/// dockerd (see ENVIRONMENT.md).
public func nsenterArguments(namespace: String) -> [String] {
    ["nsenter", "--net=\(LabAddressPlan.netnsRoot)/\(namespace)", "--"]
}

/// The nftables ruleset of a domain router: masquerade LAN→WAN, let replies back in, drop every
/// new connection from the WAN to the LAN and to the router itself. `forwards` lists
/// (protocol, port, LAN address) pairs published on the router's WAN address (the crisis router
/// publishes the master's API and WireGuard ports); LAN hosts reach them on the WAN address too
/// (hairpin NAT).
public func renderRouterRuleset(
    table: String = LabAddressPlan.routerTable,
    wanLink: String = LabAddressPlan.routerWANLink,
    wanAddress: String,
    lan: String,
    forwards: [(proto: String, port: Int, to: String)] = []
) -> String {
    var lines: [String] = []
    lines.append("table inet \(table) {")
    lines.append("\tchain prerouting {")
    lines.append("\t\ttype nat hook prerouting priority dstnat; policy accept;")
    for forward in forwards {
        lines.append("\t\tip daddr \(wanAddress) \(forward.proto) dport \(forward.port) dnat ip to \(forward.to)")
    }
    lines.append("\t}")
    lines.append("\tchain postrouting {")
    lines.append("\t\ttype nat hook postrouting priority srcnat; policy accept;")
    lines.append("\t\toifname \"\(wanLink)\" masquerade")
    for to in Array(Set(forwards.map(\.to))).sorted() {
        lines.append("\t\tip saddr \(lan) ip daddr \(to) ct status dnat masquerade")
    }
    lines.append("\t}")
    lines.append("\tchain input {")
    lines.append("\t\ttype filter hook input priority filter; policy accept;")
    lines.append("\t\tiifname \"\(wanLink)\" ct state established,related accept")
    lines.append("\t\tiifname \"\(wanLink)\" drop")
    lines.append("\t}")
    lines.append("\tchain forward {")
    lines.append("\t\ttype filter hook forward priority filter; policy accept;")
    lines.append("\t\tct state established,related accept")
    if !forwards.isEmpty {
        lines.append("\t\tiifname \"\(wanLink)\" ct status dnat accept")
    }
    lines.append("\t\tiifname \"\(wanLink)\" drop")
    lines.append("\t}")
    lines.append("}")
    return lines.joined(separator: "\n") + "\n"
}

/// The table of a router that limits what leaves its LAN (`LabEgress`), replaced atomically
/// (declaring it first makes the delete succeed when it does not exist yet). It hooks in
/// before the router's own forward chain; a drop in either table drops.
public func renderEgressRuleset(_ egress: LabEgress, masterEndpoint: String, apiPort: Int,
                                lanLink: String = LabAddressPlan.routerBridge, wanLink: String = LabAddressPlan.routerWANLink) -> String {
    let table = LabAddressPlan.egressTable
    var lines = ["table inet \(table) {}", "delete table inet \(table)"]
    let out = "iifname \"\(lanLink)\" oifname \"\(wanLink)\""
    // UDP flows that were open before the block are cut both ways, as a firewall that
    // drops UDP does (else their NAT mappings would keep bringing packets in).
    let inboundUDP = "\t\tiifname \"\(wanLink)\" oifname \"\(lanLink)\" meta l4proto udp drop"
    let head = ["table inet \(table) {", "\tchain forward {", "\t\ttype filter hook forward priority filter - 10; policy accept;"]
    switch egress {
    case .open: return lines.joined(separator: "\n") + "\n"
    case .noUDP: lines += head + ["\t\t\(out) meta l4proto udp drop", inboundUDP, "\t}", "}"]
    case .apiOnly: lines += head + ["\t\t\(out) ip daddr \(masterEndpoint) tcp dport \(apiPort) accept", "\t\t\(out) drop", inboundUDP, "\t}", "}"]
    }
    return lines.joined(separator: "\n") + "\n"
}

extension LabTopology {
    /// The command that sets what a domain's router lets out of its LAN.
    public func egressCommand(_ egress: LabEgress, of domain: LabDomain) -> LabCommand? {
        guard let router = router(of: domain) else { return nil }
        return LabCommand(nsenterArguments(namespace: router.namespace) + ["nft", "-f", "-"],
                          input: renderEgressRuleset(egress, masterEndpoint: masterEndpoint, apiPort: apiPort))
    }

    /// The published ports of a domain's router (only the master's domain publishes any).
    public func forwards(of domain: LabDomain) -> [(proto: String, port: Int, to: String)] {
        guard let master = node(masterNodeId), master.domain == domain.name, let address = master.lanAddress else { return [] }
        return [("tcp", apiPort, address), ("udp", wgPort, address)]
    }

    public func routerRuleset(of domain: LabDomain) -> String {
        renderRouterRuleset(wanAddress: domain.routerWANAddress, lan: domain.lan, forwards: forwards(of: domain))
    }

    /// Every command that builds the lab, in order. Links are created directly inside the
    /// namespaces (`ip -n A link add X type veth peer name Y netns B`), so nothing ever appears in
    /// the root namespace.
    public func setupCommands() -> [LabCommand] {
        var commands: [LabCommand] = []
        func ip(_ namespace: String, _ args: String...) {
            commands.append(LabCommand(["ip", "-n", namespace] + args))
        }
        for node in nodes { commands.append(LabCommand(["ip", "netns", "add", node.namespace])) }
        for node in nodes {
            // No IPv6 duplicate address detection: link-local addresses are final at once, so
            // snapshots do not depend on how long ago a link came up.
            commands.append(LabCommand(nsenterArguments(namespace: node.namespace)
                + ["sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"]))
            ip(node.namespace, "link", "set", "lo", "up")
        }
        guard let wan = wan else { return commands }
        let wanLink = LabAddressPlan.routerWANLink, bridge = LabAddressPlan.routerBridge, hostLink = LabAddressPlan.hostLink
        let linkLength = String(LabAddressPlan.routerLinkPrefixLength)
        for domain in domains {
            guard let router = router(of: domain) else { continue }
            let published = Set(forwards(of: domain).map(\.to))
            // Router link.
            ip(wan.namespace, "link", "add", domain.wanLinkName, "type", "veth", "peer", "name", wanLink, "netns", router.namespace)
            ip(wan.namespace, "addr", "add", "\(domain.wanSideAddress)/\(linkLength)", "dev", domain.wanLinkName)
            ip(wan.namespace, "link", "set", domain.wanLinkName, "up")
            ip(router.namespace, "addr", "add", "\(domain.routerWANAddress)/\(linkLength)", "dev", wanLink)
            ip(router.namespace, "link", "set", wanLink, "up")
            ip(router.namespace, "route", "add", "default", "via", domain.wanSideAddress)
            // LAN bridge.
            ip(router.namespace, "link", "add", bridge, "type", "bridge")
            ip(router.namespace, "addr", "add", "\(domain.gateway)/\(domain.lanPrefixLength)", "dev", bridge)
            ip(router.namespace, "link", "set", bridge, "up")
            for host in hosts(in: domain) {
                guard let port = host.routerPort, let address = host.lanAddress, let gateway = host.gateway else { continue }
                ip(router.namespace, "link", "add", port, "type", "veth", "peer", "name", hostLink, "netns", host.namespace)
                ip(router.namespace, "link", "set", port, "master", bridge)
                if published.contains(address) {
                    // The published host must also reach its own public address (hairpin NAT):
                    // the router then sends its packets back out of the port they came from.
                    ip(router.namespace, "link", "set", port, "type", "bridge_slave", "hairpin", "on")
                }
                ip(router.namespace, "link", "set", port, "up")
                ip(host.namespace, "addr", "add", "\(address)/\(host.lanPrefixLength ?? domain.lanPrefixLength)", "dev", hostLink)
                ip(host.namespace, "link", "set", hostLink, "up")
                ip(host.namespace, "route", "add", "default", "via", gateway)
            }
        }
        // Forwarding in the WAN and the routers; each router's firewall and NAT.
        for node in nodes where node.role == .wan || node.role == .router {
            commands.append(LabCommand(nsenterArguments(namespace: node.namespace) + ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]))
        }
        for domain in domains {
            guard let router = router(of: domain) else { continue }
            commands.append(LabCommand(nsenterArguments(namespace: router.namespace) + ["nft", "-f", "-"], input: routerRuleset(of: domain)))
            if let egress = domain.egress, egress != .open, let command = egressCommand(egress, of: domain) { commands.append(command) }
        }
        return commands
    }
}

/// Quotes one word for POSIX sh.
public func shellQuote(_ word: String) -> String {
    let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@%+")
    if !word.isEmpty, word.allSatisfy(safe.contains) { return word }
    return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// Renders commands as one sh script that stops at the first failing command and names it on
/// stderr. Starting one process per command costs ~50 ms with Foundation's Process; one script
/// builds a whole lab in a fraction of a second.
public func renderShellScript(_ commands: [LabCommand]) -> String {
    var lines: [String] = []
    for command in commands {
        let text = command.argv.map(shellQuote).joined(separator: " ")
        let onFailure = "|| { echo \(shellQuote("failed: " + command.description)) >&2; exit 1; }"
        if let input = command.input {
            let marker = "FUSELAB_INPUT_EOF"
            lines.append("\(text) <<'\(marker)' \(onFailure)")
            lines.append(input.hasSuffix("\n") ? String(input.dropLast()) : input)
            lines.append(marker)
        } else {
            lines.append("\(text) \(onFailure)")
        }
    }
    return lines.joined(separator: "\n") + "\n"
}
