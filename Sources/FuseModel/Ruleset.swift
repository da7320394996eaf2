/// The nftables table that FUSE owns on a node: default deny from the VPN to the node's LAN and
/// to its local ports, except the flows and exposures that the policy allows (compiled into a
/// `NodeFirewall`); the hub forwards between nodes only what the policy allows. Packets from the
/// VPN with a source outside the federation's range are dropped (WireGuard already drops those
/// whose source is not in the sending peer's allowed IPs: a /32 per node at the hub).
public enum NodeRuleset {
    /// One table per interface, so that two nodes in one network namespace never collide.
    public static func tableName(interface: String) -> String {
        "fuse_" + String(interface.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    /// The whole table, replaced atomically when fed to `nft -f`.
    /// With `containers`, the node's engine may send its containers' traffic anywhere (the
    /// node's LAN, or other domains as the policy allows the node itself), masqueraded to the
    /// node's addresses; nothing from the VPN is forwarded to them.
    public static func render(interface: String, cidr: IPv4CIDR, address: IPv4Address, firewall: NodeFirewall, isHub: Bool,
                              containers: ContainerEgress? = nil) -> String {
        let table = tableName(interface: interface)
        let iif = "iifname \"\(interface)\""
        let oif = "oifname \"\(interface)\""
        // The node's VPN address is reachable through the tunnel only (and from the node itself
        // and its own containers): a LAN device with a route to the VPN range via this node
        // gets nothing, whatever listens on that address.
        let local = ["lo", interface] + (containers?.bridges ?? [])
        var input = [
            "type filter hook input priority filter; policy accept;",
            "ip daddr \(address) iifname != \(names(local)) drop",
            "\(iif) ip saddr != \(cidr) drop",
            "\(iif) ct state established,related accept",
        ]
        input += firewall.inbound.compactMap { flow in match(flow).map { "\(iif) \($0) accept" } }
        // Allowed exposure traffic after DNAT: forwarded to a LAN device, or delivered here
        // when the exposed service runs on the node itself.
        let exposures = firewall.exposures.filter { !$0.sources.isEmpty && $0.exposure.proto != .icmp }
        let exposureAccepts = exposures.map { rule in
            let exposure = rule.exposure
            return "\(iif) ip saddr \(set(rule.sources)) ip daddr \(exposure.target) \(exposure.proto.rawValue) dport \(exposure.targetPort) ct status dnat accept"
        }
        input += exposureAccepts
        input.append("\(iif) drop")

        var forward = [
            "type filter hook forward priority filter; policy accept;",
            "\(iif) ip saddr != \(cidr) drop",
            "\(iif) ct state established,related accept",
            "\(oif) ct state established,related accept",
        ]
        if isHub {
            forward += firewall.forward.compactMap { item in
                match(item.flow, destination: item.destination).map { "\(iif) \(oif) \($0) accept" }
            }
        }
        forward += exposureAccepts
        if let containers {
            let bridges = names(containers.bridges)
            forward.append("iifname \(bridges) \(oif) accept")
            // Nothing from a LAN is forwarded to the containers but answers to what they sent.
            forward += ["oifname \(bridges) ct state established,related accept", "oifname \(bridges) iifname != \(bridges) drop"]
        }
        forward += ["\(iif) drop", "\(oif) drop"]

        var chains = [chain("input", input), chain("forward", forward)]
        var postrouting: [String] = []
        if !exposures.isEmpty {
            let prerouting = ["type nat hook prerouting priority dstnat; policy accept;"] + exposures.map { rule in
                let exposure = rule.exposure
                return "\(iif) ip daddr \(address) ip saddr \(set(rule.sources)) \(exposure.proto.rawValue) dport \(exposure.port) dnat ip to \(exposure.target):\(exposure.targetPort)"
            }
            chains.append(chain("prerouting", prerouting))
            postrouting.append("ct status dnat ct original ip daddr \(address) masquerade")
        }
        if let containers {
            postrouting.append("ip saddr \(containers.subnet) oifname != \(names(containers.bridges)) masquerade")
        }
        if !postrouting.isEmpty {
            chains.append(chain("postrouting", ["type nat hook postrouting priority srcnat; policy accept;"] + postrouting))
        }
        return """
            table inet \(table)
            delete table inet \(table)
            table inet \(table) {
            \(chains.joined(separator: "\n"))
            }

            """
    }

    private static func chain(_ name: String, _ lines: [String]) -> String {
        (["  chain \(name) {"] + lines.map { "    " + $0 } + ["  }"]).joined(separator: "\n")
    }

    /// One interface name as it is, several as an anonymous set.
    private static func names(_ links: [String]) -> String {
        links.count == 1 ? "\"\(links[0])\"" : "{ " + links.map { "\"\($0)\"" }.joined(separator: ", ") + " }"
    }

    /// One address as it is, several as an anonymous set (as `nft list` shows them).
    private static func set(_ addresses: [IPv4Address]) -> String {
        addresses.count == 1 ? addresses[0].description : "{ " + addresses.map(\.description).joined(separator: ", ") + " }"
    }

    /// The match part of a rule for a flow; nil when it has no sources (nft refuses `{ }`).
    private static func match(_ flow: AllowedFlow, destination: IPv4Address? = nil) -> String? {
        guard !flow.sources.isEmpty else { return nil }
        var parts = ["ip saddr \(set(flow.sources))"]
        if let destination { parts.append("ip daddr \(destination)") }
        switch (flow.proto, flow.port) {
        case (.icmp, _): parts.append("icmp type echo-request")
        case (let proto, let port?): parts.append("\(proto.rawValue) dport \(port)")
        case (let proto, nil): parts.append("meta l4proto \(proto.rawValue)")
        }
        return parts.joined(separator: " ")
    }
}


/// The containers of a node's engine: their subnet and the bridges they sit behind.
public struct ContainerEgress: Equatable, Sendable {
    public let subnet: IPv4CIDR
    public let bridges: [String]

    public init(subnet: IPv4CIDR, bridges: [String]) {
        self.subnet = subnet
        self.bridges = bridges
    }

    public init(engine subnet: IPv4CIDR, names: EngineNames) {
        self.init(subnet: subnet, bridges: [names.bridge, names.gatewayBridge])
    }
}
