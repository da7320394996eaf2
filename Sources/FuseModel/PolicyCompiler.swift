/// Compiles the policy into what one node enforces. All rules allow, so a flow is allowed when
/// any rule matches it; the order of rules matters only for the label of a decision.
extension Policy {
    /// `inbound`: flows from other nodes into `node` itself (the master also gets the built-in
    /// control-plane flows from every other node); `exposures`: every exposure of `node` with
    /// the nodes allowed to reach it; `forward` (master only, the hub): every allowed flow
    /// between two nodes other than the master, to a node or to an exposure at its node.
    /// Sources are sorted by address, flows by proto (tcp, udp, icmp) and port (any first),
    /// forward flows by destination first. A source allowed any port of a proto is not listed
    /// again for single ports of that proto.
    public func firewall(for node: NodeRecord, nodes: [NodeRecord], exposures: [Exposure], context: PolicyContext) -> NodeFirewall {
        let compiled = rules.map(CompiledRule.init)
        let isMaster = node.name.lowercased() == context.master.name.lowercased()
        let others = nodes.filter { !same($0, node) }
        let inbound = inboundFlows(to: node, from: others, rules: compiled, builtIn: builtInSources(to: node, from: others, context: context))
        let exposureRules = ownExposures(of: node, exposures).map {
            ExposureRule(exposure: $0, sources: sources(of: $0, from: nodes.filter { !same($0, node) }, rules: compiled))
        }
        var forward: [ForwardFlow] = []
        if isMaster {
            let workers = nodes.filter { !same($0, context.master) }.sorted { $0.address < $1.address }
            for destination in workers {
                let others = workers.filter { !same($0, destination) }
                var flows: [FlowKey: Set<IPv4Address>] = [:]
                let builtIn = builtInSources(to: destination, from: others, context: context)
                for flow in inboundFlows(to: destination, from: others, rules: compiled, builtIn: builtIn) {
                    flows[FlowKey(proto: flow.proto, port: flow.port), default: []].formUnion(flow.sources)
                }
                for exposure in ownExposures(of: destination, exposures) {
                    flows[FlowKey(proto: exposure.proto, port: exposure.port), default: []]
                        .formUnion(sources(of: exposure, from: others, rules: compiled))
                }
                forward += Self.reduced(flows).map { ForwardFlow(destination: destination.address, flow: $0) }
            }
        }
        return NodeFirewall(inbound: inbound, exposures: exposureRules, forward: forward)
    }

    private func same(_ a: NodeRecord, _ b: NodeRecord) -> Bool { a.name.lowercased() == b.name.lowercased() }

    /// Each built-in flow into `node` with the nodes it is built in for.
    private func builtInSources(to node: NodeRecord, from others: [NodeRecord], context: PolicyContext) -> [(FlowKey, [NodeRecord])] {
        var sources: [FlowKey: [NodeRecord]] = [:]
        for other in others {
            for builtIn in Self.builtInFlows(from: other, to: node, context: context) { sources[builtIn.flow, default: []].append(other) }
        }
        return sources.map { ($0.key, $0.value) }
    }

    private func ownExposures(of node: NodeRecord, _ exposures: [Exposure]) -> [Exposure] {
        exposures.filter { $0.node.lowercased() == node.name.lowercased() }.sorted {
            FlowKey(proto: $0.proto, port: $0.port) == FlowKey(proto: $1.proto, port: $1.port)
                ? $0.name.lowercased() < $1.name.lowercased()
                : FlowKey(proto: $0.proto, port: $0.port) < FlowKey(proto: $1.proto, port: $1.port)
        }
    }

    /// `builtIn`: flows allowed whatever the rules say, each from its own sources.
    private func inboundFlows(to node: NodeRecord, from sources: [NodeRecord], rules: [CompiledRule], builtIn: [(FlowKey, [NodeRecord])]) -> [AllowedFlow] {
        var flows: [FlowKey: Set<IPv4Address>] = [:]
        for (key, allowed) in builtIn where !allowed.isEmpty {
            flows[key, default: []].formUnion(allowed.map(\.address))
        }
        for rule in rules where rule.to.contains(where: { $0.matches(.node(node)) }) {
            let matching = sources.filter { source in rule.from.contains { $0.matches(source) } }.map(\.address)
            guard !matching.isEmpty else { continue }
            for key in rule.nodeFlows { flows[key, default: []].formUnion(matching) }
        }
        return Self.reduced(flows)
    }

    private func sources(of exposure: Exposure, from nodes: [NodeRecord], rules: [CompiledRule]) -> [IPv4Address] {
        nodes.filter { source in
            rules.contains { $0.allows(source: source, destination: .exposure(exposure), proto: exposure.proto, port: exposure.port) }
        }.map(\.address).sorted()
    }

    /// Sorted flows without empty ones and without sources that an any-port flow of the same
    /// proto already allows.
    private static func reduced(_ flows: [FlowKey: Set<IPv4Address>]) -> [AllowedFlow] {
        flows.keys.sorted().compactMap { key in
            var sources = flows[key]!
            if key.port != nil, let any = flows[FlowKey(proto: key.proto, port: nil)] { sources.subtract(any) }
            return sources.isEmpty ? nil : AllowedFlow(sources: sources.sorted(), proto: key.proto, port: key.port)
        }
    }
}
