/// Compiles the policy into what one node enforces. All rules allow, so a flow is allowed when
/// any rule matches it; the order of rules matters only for the label of a decision.
extension Policy {
    /// `inbound`: flows from other nodes into `node` itself (the master also gets the built-in
    /// control-plane flows from every other node); `exposures`: every exposure of `node` with
    /// the nodes allowed to reach it; `forward` (master only, the hub): every allowed flow
    /// between two nodes other than the master, to a node or to an exposure at its node, by
    /// group (`hubForward`). Sources are sorted by address, flows by proto (tcp, udp, icmp) and
    /// port (any first). A source allowed any port of a proto is not listed again for single
    /// ports of that proto (inbound).
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
    private(set) var ruleSources: [SortedAddresses]
    /// Per rule: the addresses of the workers its `to` selects (what the hub forwards to).
    private(set) var ruleDestinations: [SortedAddresses]
    private(set) var allAddresses: SortedAddresses
    private(set) var workloadAddresses: SortedAddresses
    /// Per node (lowercased name): its exposures in firewall order.
    private(set) var exposuresByNode: [String: [Exposure]]
    /// Per exposure (lowercased name): every node the rules let reach it.
    private(set) var exposureSources: [String: SortedAddresses]
    /// Workers (every node but the master) in address order.
    private(set) var workers: [NodeRecord]

    public init(_ policy: Policy, nodes: [NodeRecord], exposures: [Exposure], context: PolicyContext) {
        let rules = policy.rules.map(CompiledRule.init)
        self.rules = rules
        self.context = context
        ruleSources = rules.map { rule in SortedAddresses(nodes.filter { source in rule.from.contains { $0.matches(source) } }.map(\.address)) }
        allAddresses = SortedAddresses(nodes.map(\.address))
        workloadAddresses = SortedAddresses(nodes.filter(\.runsWorkloads).map(\.address))
        exposuresByNode = Dictionary(grouping: exposures) { $0.node.lowercased() }.mapValues { $0.sorted(by: Self.firewallOrder) }
        exposureSources = Dictionary(exposures.map { ($0.name.lowercased(), Self.sources(of: $0, among: nodes, rules: rules)) }, uniquingKeysWith: { a, _ in a })
        let workers = nodes.filter { $0.name.lowercased() != context.master.name.lowercased() }.sorted { $0.address < $1.address }
        self.workers = workers
        ruleDestinations = rules.map { rule in SortedAddresses(workers.filter { rule.selects($0) }.map(\.address)) }
    }

    /// A worker joined: what matching it against every rule and exposure adds (the same as
    /// compiling again with it, in work bounded by the rules and exposures).
    mutating func add(_ node: NodeRecord) {
        for index in rules.indices where rules[index].from.contains(where: { $0.matches(node) }) { ruleSources[index].insert(node.address) }
        for index in rules.indices where rules[index].selects(node) { ruleDestinations[index].insert(node.address) }
        allAddresses.insert(node.address)
        if node.runsWorkloads { workloadAddresses.insert(node.address) }
        for exposure in exposuresByNode.values.joined()
        where rules.contains(where: { $0.allows(source: node, destination: .exposure(exposure), proto: exposure.proto, port: exposure.port) }) {
            exposureSources[exposure.name.lowercased(), default: SortedAddresses()].insert(node.address)
        }
        workers.insert(node, at: workers.partitionPoint { $0.address >= node.address })
    }

    /// A node's exposures in the order of its firewall: by protocol and port, then by name.
    private static func firewallOrder(_ a: Exposure, _ b: Exposure) -> Bool {
        let (left, right) = (FlowKey(proto: a.proto, port: a.port), FlowKey(proto: b.proto, port: b.port))
        return left == right ? a.name.lowercased() < b.name.lowercased() : left < right
    }

    /// Every node the rules let reach `exposure`.
    private static func sources(of exposure: Exposure, among nodes: [NodeRecord], rules: [CompiledRule]) -> SortedAddresses {
        SortedAddresses(nodes.filter { source in
            rules.contains { $0.allows(source: source, destination: .exposure(exposure), proto: exposure.proto, port: exposure.port) }
        }.map(\.address))
    }

    /// An exposure was added (of a node in `nodes`, the federation's): who may reach it is
    /// matched once, as compiling again would.
    mutating func add(_ exposure: Exposure, nodes: [NodeRecord]) {
        let owner = exposure.node.lowercased()
        exposuresByNode[owner, default: []].insert(exposure, at: exposuresByNode[owner, default: []].partitionPoint { !Self.firewallOrder($0, exposure) })
        exposureSources[exposure.name.lowercased()] = Self.sources(of: exposure, among: nodes, rules: rules)
    }

    /// An exposure was removed.
    mutating func remove(_ exposure: Exposure) {
        let owner = exposure.node.lowercased()
        exposuresByNode[owner]?.removeAll { $0.name == exposure.name }
        if exposuresByNode[owner]?.isEmpty == true { exposuresByNode.removeValue(forKey: owner) }
        exposureSources.removeValue(forKey: exposure.name.lowercased())
    }

    /// A worker left, and its exposures with it.
    mutating func remove(_ node: NodeRecord) {
        for index in ruleSources.indices {
            ruleSources[index].remove(node.address)
            ruleDestinations[index].remove(node.address)
        }
        allAddresses.remove(node.address)
        workloadAddresses.remove(node.address)
        for exposure in exposuresByNode.removeValue(forKey: node.name.lowercased()) ?? [] { exposureSources.removeValue(forKey: exposure.name.lowercased()) }
        for name in Array(exposureSources.keys) { exposureSources[name]?.remove(node.address) }
        workers.removeAll { $0.name == node.name }
    }

    public func firewall(for node: NodeRecord) -> NodeFirewall {
        let isMaster = node.name.lowercased() == context.master.name.lowercased()
        let others = allAddresses.subtracting(SortedAddresses([node.address]))
        var builtIn = isMaster ? Policy.controlPlaneFlows(apiPort: context.apiPort).map { ($0, others) } : []
        if node.runsWorkloads {
            builtIn += Policy.workloadFlows(toMaster: isMaster).map { ($0, workloadAddresses.subtracting(SortedAddresses([node.address]))) }
        }
        let itself = SortedAddresses([node.address])
        let inbound = Self.reduced(flows(to: node, excluding: itself, builtIn: builtIn))
        let exposureRules = (exposuresByNode[node.name.lowercased()] ?? []).map {
            ExposureRule(exposure: $0, sources: sources(of: $0, excluding: itself))
        }
        return NodeFirewall(inbound: inbound, exposures: exposureRules, forward: isMaster ? hubForward() : [])
    }

    /// What the hub forwards, by group as its nftables table enforces it: per rule and flow, from
    /// the rule's sources to the workers it selects; per exposure, from who may reach it to its
    /// node; the engines' Swarm flows between the workers with workloads. The master is no
    /// source or destination (what it sends is not forwarded). Sources and destinations may
    /// overlap: a node's traffic to itself never passes the hub. The hub's map thus grows with
    /// nodes + rules, not with nodes × sources, and a join adds an address to a few groups.
    func hubForward() -> [ForwardFlow] {
        let master = SortedAddresses([context.master.address])
        var forward: [ForwardFlow] = []
        for (index, rule) in rules.enumerated() {
            let sources = ruleSources[index].subtracting(master).elements
            let destinations = ruleDestinations[index].elements
            guard !sources.isEmpty, !destinations.isEmpty else { continue }
            forward += rule.nodeFlows.map { ForwardFlow(destinations: destinations, flow: AllowedFlow(sources: sources, proto: $0.proto, port: $0.port)) }
        }
        for worker in workers {
            for exposure in exposuresByNode[worker.name.lowercased()] ?? [] {
                let sources = sources(of: exposure, excluding: master.union(SortedAddresses([worker.address])))
                guard !sources.isEmpty else { continue }
                forward.append(ForwardFlow(destinations: [worker.address], flow: AllowedFlow(sources: sources, proto: exposure.proto, port: exposure.port)))
            }
        }
        let engines = workers.filter(\.runsWorkloads).map(\.address)
        if engines.count > 1 {
            forward += Policy.workloadFlows(toMaster: false).map {
                ForwardFlow(destinations: engines, flow: AllowedFlow(sources: engines, proto: $0.proto, port: $0.port))
            }
        }
        return forward
    }

    /// The indices of the rules whose `to` selects `node` as a destination.
    func rules(targeting node: NodeRecord) -> [Int] {
        rules.indices.filter { rules[$0].selects(node) }
    }

    /// `builtIn`: flows allowed whatever the rules say, each from its own sources.
    private func flows(to node: NodeRecord, excluding excluded: SortedAddresses, builtIn: [(FlowKey, SortedAddresses)]) -> [FlowKey: SortedAddresses] {
        var flows: [FlowKey: SortedAddresses] = [:]
        for (key, allowed) in builtIn where !allowed.isEmpty {
            flows[key] = flows[key, default: SortedAddresses()].union(allowed)
        }
        for index in rules(targeting: node) {
            let matching = ruleSources[index].subtracting(excluded)
            guard !matching.isEmpty else { continue }
            for key in rules[index].nodeFlows { flows[key] = flows[key, default: SortedAddresses()].union(matching) }
        }
        return flows
    }

    private func sources(of exposure: Exposure, excluding excluded: SortedAddresses) -> [IPv4Address] {
        (exposureSources[exposure.name.lowercased()] ?? SortedAddresses()).subtracting(excluded).elements
    }

    /// Sorted flows without empty ones and without sources that an any-port flow of the same
    /// proto already allows.
    static func reduced(_ flows: [FlowKey: SortedAddresses]) -> [AllowedFlow] {
        flows.keys.sorted().compactMap { key in
            var sources = flows[key]!
            if key.port != nil, let any = flows[FlowKey(proto: key.proto, port: nil)] { sources = sources.subtracting(any) }
            return sources.isEmpty ? nil : AllowedFlow(sources: sources.elements, proto: key.proto, port: key.port)
        }
    }
}
