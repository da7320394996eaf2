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
        CompiledPolicy(self, nodes: nodes, exposures: exposures, context: context).firewall(for: node)
    }
}

/// The policy matched against one set of nodes and exposures once, so that every node's
/// firewall then costs only what it lists (not a pass over every node per rule).
public struct CompiledPolicy: Sendable {
    let rules: [CompiledRule]
    let context: PolicyContext
    /// Per rule: the addresses of the nodes its `from` matches.
    let ruleSources: [Set<IPv4Address>]
    let allAddresses: Set<IPv4Address>
    let workloadAddresses: Set<IPv4Address>
    /// Per node (lowercased name): its exposures in firewall order.
    let exposuresByNode: [String: [Exposure]]
    /// Per exposure (lowercased name): every node the rules let reach it.
    let exposureSources: [String: Set<IPv4Address>]
    /// Workers (every node but the master) in address order.
    let workers: [NodeRecord]

    public init(_ policy: Policy, nodes: [NodeRecord], exposures: [Exposure], context: PolicyContext) {
        let rules = policy.rules.map(CompiledRule.init)
        self.rules = rules
        self.context = context
        ruleSources = rules.map { rule in Set(nodes.filter { source in rule.from.contains { $0.matches(source) } }.map(\.address)) }
        allAddresses = Set(nodes.map(\.address))
        workloadAddresses = Set(nodes.filter(\.runsWorkloads).map(\.address))
        exposuresByNode = Dictionary(grouping: exposures) { $0.node.lowercased() }.mapValues { list in
            list.sorted {
                FlowKey(proto: $0.proto, port: $0.port) == FlowKey(proto: $1.proto, port: $1.port)
                    ? $0.name.lowercased() < $1.name.lowercased()
                    : FlowKey(proto: $0.proto, port: $0.port) < FlowKey(proto: $1.proto, port: $1.port)
            }
        }
        exposureSources = Dictionary(exposures.map { exposure in
            (exposure.name.lowercased(), Set(nodes.filter { source in
                rules.contains { $0.allows(source: source, destination: .exposure(exposure), proto: exposure.proto, port: exposure.port) }
            }.map(\.address)))
        }, uniquingKeysWith: { a, _ in a })
        workers = nodes.filter { $0.name.lowercased() != context.master.name.lowercased() }.sorted { $0.address < $1.address }
    }

    public func firewall(for node: NodeRecord) -> NodeFirewall {
        let isMaster = node.name.lowercased() == context.master.name.lowercased()
        let others = allAddresses.subtracting([node.address])
        var builtIn = isMaster ? Policy.controlPlaneFlows(apiPort: context.apiPort).map { ($0, others) } : []
        if node.runsWorkloads {
            builtIn += Policy.workloadFlows(toMaster: isMaster).map { ($0, workloadAddresses.subtracting([node.address])) }
        }
        let inbound = Self.reduced(flows(to: node, excluding: [node.address], builtIn: builtIn))
        let exposureRules = (exposuresByNode[node.name.lowercased()] ?? []).map {
            ExposureRule(exposure: $0, sources: sources(of: $0, excluding: [node.address]))
        }
        var forward: [ForwardFlow] = []
        if isMaster {
            for destination in workers {
                let excluded: Set = [context.master.address, destination.address]
                let workloads = destination.runsWorkloads
                    ? Policy.workloadFlows(toMaster: false).map { ($0, workloadAddresses.subtracting(excluded)) } : []
                var flows = flows(to: destination, excluding: excluded, builtIn: workloads)
                for exposure in exposuresByNode[destination.name.lowercased()] ?? [] {
                    flows[FlowKey(proto: exposure.proto, port: exposure.port), default: []].formUnion(sources(of: exposure, excluding: excluded))
                }
                forward += Self.reduced(flows).map { ForwardFlow(destination: destination.address, flow: $0) }
            }
        }
        return NodeFirewall(inbound: inbound, exposures: exposureRules, forward: forward)
    }

    /// The indices of the rules whose `to` selects `node` as a destination.
    func rules(targeting node: NodeRecord) -> [Int] {
        rules.indices.filter { rules[$0].to.contains { $0.matches(.node(node)) } }
    }

    /// `builtIn`: flows allowed whatever the rules say, each from its own sources.
    private func flows(to node: NodeRecord, excluding excluded: Set<IPv4Address>, builtIn: [(FlowKey, Set<IPv4Address>)]) -> [FlowKey: Set<IPv4Address>] {
        var flows: [FlowKey: Set<IPv4Address>] = [:]
        for (key, allowed) in builtIn where !allowed.isEmpty {
            flows[key, default: []].formUnion(allowed)
        }
        for index in rules(targeting: node) {
            let matching = ruleSources[index].subtracting(excluded)
            guard !matching.isEmpty else { continue }
            for key in rules[index].nodeFlows { flows[key, default: []].formUnion(matching) }
        }
        return flows
    }

    private func sources(of exposure: Exposure, excluding excluded: Set<IPv4Address>) -> [IPv4Address] {
        (exposureSources[exposure.name.lowercased()] ?? []).subtracting(excluded).sorted()
    }

    /// Sorted flows without empty ones and without sources that an any-port flow of the same
    /// proto already allows.
    static func reduced(_ flows: [FlowKey: Set<IPv4Address>]) -> [AllowedFlow] {
        flows.keys.sorted().compactMap { key in
            var sources = flows[key]!
            if key.port != nil, let any = flows[FlowKey(proto: key.proto, port: nil)] { sources.subtract(any) }
            return sources.isEmpty ? nil : AllowedFlow(sources: sources.sorted(), proto: key.proto, port: key.port)
        }
    }
}
