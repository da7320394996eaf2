/// The federation at one network-map version — nodes, exposures, policy — from which every
/// node's map follows. The master builds one per version and every map of that version comes
/// from it: the policy is matched once, the hub's peers are listed once.
public struct FederationSnapshot: Sendable {
    public let version: Int64
    public let facts: FederationFacts
    public let nodes: [NodeRecord]
    public let exposures: [Exposure]
    public let policy: Policy
    public let master: NodeRecord?
    let byName: [String: NodeRecord]
    let compiled: CompiledPolicy?
    let hubPeers: [MapPeer]
    /// Made by `applying` from the snapshot of version `from`: the workers that joined or left
    /// on the way (names as stored), the only records in which the two differ.
    let applied: (from: Int64, names: Set<String>)?

    public init(version: Int64, nodes: [NodeRecord], exposures: [Exposure], policy: Policy, facts: FederationFacts) {
        let master = nodes.first(where: \.isMaster)
        self.init(version: version, facts: facts, nodes: nodes, exposures: exposures, policy: policy, master: master,
                  byName: Dictionary(nodes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a }),
                  compiled: master.map { CompiledPolicy(policy, nodes: nodes, exposures: exposures, context: PolicyContext(master: $0, apiPort: facts.apiPort)) },
                  hubPeers: NetworkMap.hubPeers(workers: nodes.filter { !$0.isMaster }), applied: nil)
    }

    private init(version: Int64, facts: FederationFacts, nodes: [NodeRecord], exposures: [Exposure], policy: Policy, master: NodeRecord?,
                 byName: [String: NodeRecord], compiled: CompiledPolicy?, hubPeers: [MapPeer], applied: (from: Int64, names: Set<String>)?) {
        self.version = version
        self.facts = facts
        self.nodes = nodes
        self.exposures = exposures
        self.policy = policy
        self.master = master
        self.byName = byName
        self.compiled = compiled
        self.hubPeers = hubPeers
        self.applied = applied
    }

    /// This snapshot with `changes` made, at `version`: what a build from the store after them
    /// gives (every node's map the same), in work bounded by the change instead of the
    /// federation — a join must not re-read and re-match every node, an exposure matches only
    /// who may reach it. nil when a change is not a worker's join or leave or an exposure's
    /// (rebuild from the store), or does not fit this snapshot.
    public func applying(_ changes: [FederationChange], version: Int64) -> FederationSnapshot? {
        guard let master, var compiled, version > self.version else { return nil }
        var (nodes, exposures, byName, hubPeers) = (self.nodes, self.exposures, self.byName, self.hubPeers)
        var touched = Set<String>()
        for change in changes {
            switch change {
            case .joined(let node):
                guard !node.isMaster, byName[node.name] == nil else { return nil }
                touched.insert(node.name)
                nodes.append(node)
                byName[node.name] = node
                compiled.add(node)
                let peer = NetworkMap.hubPeers(workers: [node])[0]
                hubPeers.insert(peer, at: hubPeers.partitionPoint { $0.allowedIPs[0].network >= node.address })
            case .left(let name):
                guard let node = byName.removeValue(forKey: name), !node.isMaster else { return nil }
                touched.insert(name)
                nodes.removeAll { $0.name == name }
                // The store removes a node's exposures with it.
                exposures.removeAll { $0.node.lowercased() == name.lowercased() }
                compiled.remove(node)
                hubPeers.removeAll { $0.name == name }
            case .exposed(let exposure):
                guard byName[exposure.node] != nil, !exposures.contains(where: { $0.name.lowercased() == exposure.name.lowercased() }) else { return nil }
                exposures.insert(exposure, at: exposures.partitionPoint { Exposure.storeOrder(exposure, $0) })
                compiled.add(exposure, nodes: nodes)
            case .unexposed(let name):
                guard let index = exposures.firstIndex(where: { $0.name == name }) else { return nil }
                compiled.remove(exposures.remove(at: index))
            case .other:
                return nil
            }
        }
        return FederationSnapshot(version: version, facts: facts, nodes: nodes, exposures: exposures, policy: policy, master: master,
                                  byName: byName, compiled: compiled, hubPeers: hubPeers, applied: (self.version, touched))
    }

    /// The map of the node named exactly `name`; nil for an unknown node (or no master yet).
    public func map(for name: String) -> NetworkMap? {
        guard let node = byName[name], let master, let compiled else { return nil }
        return NetworkMap(version: version, federation: facts.name, cidr: facts.cidr, node: node, isHub: node.isMaster,
                          peers: node.isMaster ? hubPeers : NetworkMap.workerPeers(master: master, facts: facts),
                          masterAddress: master.address, apiPort: facts.apiPort, firewall: compiled.firewall(for: node))
    }

    /// The nodes (names as stored) whose map may differ from their map in `old`: a superset,
    /// found without computing any map; nil = every node (the policy, the master or the
    /// federation's facts changed). The master is always in it (the hub lists every node).
    /// A worker's map depends only on its own record, the master, its own exposures and who
    /// may reach them, the sources of the rules that select it, and (with workloads) the set
    /// of nodes with workloads.
    public func changedNodes(since old: FederationSnapshot) -> Set<String>? {
        guard let compiled, let oldCompiled = old.compiled, policy == old.policy, master == old.master,
              facts.name == old.facts.name, facts.cidr == old.facts.cidr, facts.endpointHost == old.facts.endpointHost,
              facts.wireGuardPort == old.facts.wireGuardPort, facts.apiPort == old.facts.apiPort, facts.keepalive == old.facts.keepalive
        else { return nil }
        let changedRules = Set(compiled.ruleSources.indices.filter { compiled.ruleSources[$0] != oldCompiled.ruleSources[$0] })
        let workloadsChanged = compiled.workloadAddresses != oldCompiled.workloadAddresses
        var exposureOwners = Set<String>()
        let oldExposures = Dictionary(old.exposures.map { ($0.name.lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
        let newExposures = Dictionary(exposures.map { ($0.name.lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
        for name in Set(oldExposures.keys).union(newExposures.keys)
        where oldExposures[name] != newExposures[name] || oldCompiled.exposureSources[name] != compiled.exposureSources[name] {
            if let owner = oldExposures[name]?.node { exposureOwners.insert(owner.lowercased()) }
            if let owner = newExposures[name]?.node { exposureOwners.insert(owner.lowercased()) }
        }
        var changed = Set<String>()
        // Made from `old` by joins and leaves: only their records differ, and unless a rule's
        // sources, an exposure's or the engines changed, no other map (no pass over every node).
        let touched = applied.flatMap { $0.from == old.version ? $0.names : nil }
        if let touched, let master, changedRules.isEmpty, !workloadsChanged, exposureOwners.isEmpty {
            return touched.filter { byName[$0] != nil }.union([master.name])
        }
        for node in nodes {
            if node.isMaster || (touched.map { $0.contains(node.name) } ?? (old.byName[node.name] != node)) || exposureOwners.contains(node.name.lowercased())
                || (node.runsWorkloads && workloadsChanged)
                || (!changedRules.isEmpty && compiled.rules(targeting: node).contains(where: changedRules.contains)) {
                changed.insert(node.name)
            }
        }
        return changed
    }
}

/// One change of the store that a snapshot can follow without reading the store again.
public enum FederationChange: Equatable, Sendable {
    /// A worker joined.
    case joined(NodeRecord)
    /// A worker left or was removed (its name as stored), and its exposures with it.
    case left(String)
    /// An exposure was added.
    case exposed(Exposure)
    /// An exposure was removed (its name as stored).
    case unexposed(String)
    /// Anything else (policy, settings): the snapshot is built again from the store.
    case other
}
