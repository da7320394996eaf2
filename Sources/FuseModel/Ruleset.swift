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

    /// The whole table. Its address lists are named sets, so that a change that only adds or
    /// removes addresses (a join, a leave) is applied by element (`RenderedRuleset.changes`).
    /// With `containers`, the node's engine may send its containers' traffic anywhere (the
    /// node's LAN, or other domains as the policy allows the node itself), masqueraded to the
    /// node's addresses; nothing from the VPN is forwarded to them. With `probe` (the hub),
    /// relayed workers' UDP probes to the WireGuard port go to the master's responder (`UDPProbe`).
    public static func render(interface: String, cidr: IPv4CIDR, address: IPv4Address, firewall: NodeFirewall, isHub: Bool,
                              containers: ContainerEgress? = nil, probe: ProbeRedirect? = nil) -> RenderedRuleset {
        let table = tableName(interface: interface)
        let iif = "iifname \"\(interface)\""
        let oif = "oifname \"\(interface)\""
        var sets: [RenderedRuleset.AddressSet] = []
        func named(_ name: String, _ addresses: [IPv4Address]) -> String {
            sets.append(RenderedRuleset.AddressSet(name: name, elements: addresses))
            return "@" + name
        }
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
        for (index, flow) in firewall.inbound.enumerated() where !flow.sources.isEmpty {
            input.append("\(iif) ip saddr \(named("in\(index)", flow.sources)) \(match(flow)) accept")
        }
        // Allowed exposure traffic after DNAT: forwarded to a LAN device, or delivered here
        // when the exposed service runs on the node itself.
        let exposures = firewall.exposures.filter { !$0.sources.isEmpty && $0.exposure.proto != .icmp }
        let exposureSources = exposures.enumerated().map { named("exposure\($0.offset)", $0.element.sources) }
        let exposureAccepts = zip(exposures, exposureSources).map { rule, sources in
            let exposure = rule.exposure
            return "\(iif) ip saddr \(sources) ip daddr \(exposure.target) \(exposure.proto.rawValue) dport \(exposure.targetPort) ct status dnat accept"
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
            // One rule per group with the sets of its sources and destinations, not one per
            // destination: a node joining a domain is one element more.
            for (index, group) in firewall.forward.enumerated() where !group.flow.sources.isEmpty && !group.destinations.isEmpty {
                let from = named("forward\(index)_from", group.flow.sources), to = named("forward\(index)_to", group.destinations)
                forward.append("\(iif) \(oif) ip saddr \(from) ip daddr \(to) \(match(group.flow)) accept")
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
        var prerouting = zip(exposures, exposureSources).map { rule, sources in
            let exposure = rule.exposure
            return "\(iif) ip daddr \(address) ip saddr \(sources) \(exposure.proto.rawValue) dport \(exposure.port) dnat ip to \(exposure.target):\(exposure.targetPort)"
        }
        if !exposures.isEmpty { postrouting.append("ct status dnat ct original ip daddr \(address) masquerade") }
        if isHub, let probe {
            prerouting.append("iifname != \"\(interface)\" \(UDPProbe.match(hubPort: probe.hubPort)) redirect to :\(probe.answerPort)")
        }
        if !prerouting.isEmpty {
            chains.append(chain("prerouting", ["type nat hook prerouting priority dstnat; policy accept;"] + prerouting))
        }
        if let containers {
            postrouting.append("ip saddr \(containers.subnet) oifname != \(names(containers.bridges)) masquerade")
        }
        if !postrouting.isEmpty {
            chains.append(chain("postrouting", ["type nat hook postrouting priority srcnat; policy accept;"] + postrouting))
        }
        return RenderedRuleset(table: table, sets: sets, chains: chains)
    }

    private static func chain(_ name: String, _ lines: [String]) -> RenderedRuleset.Chain {
        RenderedRuleset.Chain(name: name, text: (["  chain \(name) {"] + lines.map { "    " + $0 } + ["  }"]).joined(separator: "\n"))
    }

    /// One interface name as it is, several as an anonymous set.
    private static func names(_ links: [String]) -> String {
        links.count == 1 ? "\"\(links[0])\"" : "{ " + links.map { "\"\($0)\"" }.joined(separator: ", ") + " }"
    }

    static func list(_ addresses: [IPv4Address]) -> String {
        "{ " + addresses.map(\.description).joined(separator: ", ") + " }"
    }

    /// What a flow matches besides its sources (and destinations).
    private static func match(_ flow: AllowedFlow) -> String {
        switch (flow.proto, flow.port) {
        case (.icmp, _): "icmp type echo-request"
        case (let proto, let port?): "\(proto.rawValue) dport \(port)"
        case (let proto, nil): "meta l4proto \(proto.rawValue)"
        }
    }
}

/// A node's table as `NodeRuleset` renders it: the nft text, and its structure apart from the
/// addresses in its sets.
public struct RenderedRuleset: Equatable, Sendable {
    public struct AddressSet: Equatable, Sendable {
        public let name: String
        public let elements: [IPv4Address]
    }

    /// A chain as nft reads it, its rules naming the sets.
    struct Chain: Equatable, Sendable {
        let name: String
        let text: String
    }

    public let table: String
    public let sets: [AddressSet]
    let chains: [Chain]

    /// The text with every set empty: two rulesets with the same skeleton differ in set
    /// elements only.
    public var skeleton: String { text(withElements: false) }

    /// The whole table, replaced atomically when fed to `nft -f`. Written out only when it is
    /// loaded whole: the hub's lists every node, and a join changes one element.
    public var text: String { text(withElements: true) }

    private func text(withElements: Bool) -> String {
        """
        table inet \(table)
        delete table inet \(table)
        table inet \(table) {
        \((sets.map { Self.declaration($0, withElements: withElements) } + chains.map(\.text)).joined(separator: "\n"))
        }

        """
    }

    private static func declaration(_ set: AddressSet, withElements: Bool) -> String {
        let elements = withElements && !set.elements.isEmpty ? ["    elements = \(NodeRuleset.list(set.elements))"] : []
        return (["  set \(set.name) {", "    type ipv4_addr"] + elements + ["  }"]).joined(separator: "\n")
    }

    /// The table as a person reads it: without the set declarations, each set written out
    /// where a rule uses it (one address as it is, several as `{ a, b }`). nft loads `text`.
    public var inlined: String {
        let lists = Dictionary(sets.map { ("@" + $0.name, $0.elements.count == 1 ? $0.elements[0].description : NodeRuleset.list($0.elements)) },
                               uniquingKeysWith: { a, _ in a })
        var inDeclaration = false
        let lines = skeleton.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
            if line.hasPrefix("  set ") { inDeclaration = true }
            defer { if inDeclaration, line == "  }" { inDeclaration = false } }
            return !inDeclaration
        }
        return lines.map { line in
            line.split(separator: " ", omittingEmptySubsequences: false).map { word in
                lists[String(word)] ?? String(word)
            }.joined(separator: " ")
        }.joined(separator: "\n")
    }

    /// The nft script that turns the `applied` table into this one in one transaction under
    /// `nft -f`, in work that follows the change rather than the table: the sets both have
    /// change by element; when a rule changed, every chain is flushed and written again (a
    /// few rules per policy rule and exposure) and the sets only this one has are declared,
    /// those only `applied` has deleted — the hub's sets list every node, and loading them
    /// all again for an exposure or a policy change cost in proportion to the federation.
    /// nil when nothing changed (or another table). A table changed behind FUSE's back can
    /// make the script fail; the caller then loads `text`, which replaces the table whole.
    public func changes(from applied: RenderedRuleset) -> String? {
        guard applied.table == table, applied != self else { return nil }
        var lines: [String] = []
        let rulesChanged = applied.chains != chains
        if rulesChanged {
            // Before any set goes: a set is deleted only once no rule uses it.
            lines += applied.chains.map { "flush chain inet \(table) \($0.name)" }
            let kept = Set(chains.map(\.name))
            lines += applied.chains.filter { !kept.contains($0.name) }.map { "delete chain inet \(table) \($0.name)" }
        }
        let appliedSets = Dictionary(applied.sets.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let names = Set(sets.map(\.name))
        lines += applied.sets.filter { !names.contains($0.name) }.map { "delete set inet \(table) \($0.name)" }
        var declarations: [String] = []
        for set in sets {
            guard let old = appliedSets[set.name] else {
                declarations.append(Self.declaration(set, withElements: true))
                continue
            }
            guard old.elements != set.elements else { continue }
            let pairing = KeyedPairing(new: set.elements, old: old.elements, key: { $0 })
            let added = zip(set.elements, pairing.oldIndex).filter { $0.1 == nil }.map(\.0), removed = pairing.removed.map { old.elements[$0] }
            if !removed.isEmpty { lines.append("delete element inet \(table) \(set.name) \(NodeRuleset.list(removed))") }
            if !added.isEmpty { lines.append("add element inet \(table) \(set.name) \(NodeRuleset.list(added))") }
        }
        if rulesChanged || !declarations.isEmpty {
            // A chain that exists keeps its hook; declared again, it takes the rules that follow.
            lines.append("table inet \(table) {\n" + (declarations + (rulesChanged ? chains.map(\.text) : [])).joined(separator: "\n") + "\n}")
        }
        return lines.joined(separator: "\n") + "\n"
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
