import Foundation
import FuseModel

/// Exposures, the policy and names: what each domain shares, and with whom.
extension ControlPlane {
    func policyContext(_ nodes: [NodeRecord]) throws -> PolicyContext {
        guard let master = nodes.first(where: \.isMaster) else { throw PolicyError.noMaster }
        return PolicyContext(master: master, apiPort: config.apiPort)
    }

    /// The policy in force: the latest stored version, else the default.
    public func policy() throws -> Policy {
        if let stored = try store.policy() { return try Policy.parse(stored.text) }
        return Policy.defaultPolicy(masterDomain: config.domain)
    }

    public func expose(_ request: API.ExposeRequest, by requester: Requester) async throws -> Exposure {
        let nodeName: String
        switch requester {
        case .node(let name):
            guard request.node == nil || request.node?.lowercased() == name.lowercased() else { throw ExposureError.notOwnLAN }
            nodeName = name
        case .operator: nodeName = request.node ?? config.nodeName
        }
        let name: String
        do { name = try NameRule.label(request.name, kind: "exposure") } catch { throw ExposureError.invalid("\(error)") }
        guard request.proto != .icmp else { throw ExposureError.notTCPOrUDP }
        guard request.port > 0, request.targetPort > 0 else { throw ExposureError.portZero }
        // From the snapshot in force (as new as the store for this process's changes), not a
        // read of every node: at 2,000 nodes that read was 8 ms of an exposure's way. The store
        // refuses a node removed since.
        let nodes = try await currentSnapshot().nodes
        guard let node = nodes.first(where: { $0.name.lowercased() == nodeName.lowercased() }) else { throw NodeError.unknown(nodeName) }
        // Nodes and exposures share one name space (NAME.DOMAIN.fuse).
        if let other = nodes.first(where: { $0.name.lowercased() == name.lowercased() }) {
            throw ExposureError.nameOfNode(other.name)
        }
        if node.isMaster, request.proto == .tcp, request.port == config.apiPort {
            throw ExposureError.controlPlanePort(request.port)
        }
        do { try ExposureTarget.check(request.target, federationRanges: config.federationRanges, ownAddresses: [node.address]) } catch {
            throw ExposureError.invalid("\(error)")
        }
        let exposure = Exposure(name: name, node: node.name, domain: node.domain, proto: request.proto, port: request.port,
                                target: request.target, targetPort: request.targetPort)
        try await stored { try $0.addExposure(exposure) }
        logger.info("exposure added", metadata: ["exposure": "\(name)", "node": "\(node.name)", "port": "\(request.proto.rawValue)/\(request.port)"])
        try await changed()
        return exposure
    }

    public func unexpose(_ name: String, by requester: Requester) async throws {
        let owner: String?
        switch requester {
        case .node(let node): owner = node
        case .operator: owner = nil
        }
        guard try await stored({ try $0.removeExposure(name, node: owner) }) else { throw ExposureError.unknown(name: name, owner: owner) }
        logger.info("exposure removed", metadata: ["exposure": "\(name)"])
        try await changed()
    }

    /// The federation's catalogue, with the nodes that may reach each service.
    public func services() throws -> [API.ServiceInfo] {
        let nodes = try store.nodes()
        let policy = try policy()
        let context = try policyContext(nodes)
        return try store.exposures().compactMap { exposure in
            guard let owner = nodes.first(where: { $0.name == exposure.node }) else { return nil }
            let allowed = nodes.filter { source in
                source.name != owner.name
                    && policy.decide(source: source, destination: .exposure(exposure), proto: exposure.proto, port: exposure.port, context: context).allowed
            }
            return API.ServiceInfo(name: exposure.name, domain: exposure.domain, node: exposure.node, address: owner.address,
                                   port: exposure.port, proto: exposure.proto, dnsName: "\(exposure.name).\(exposure.domain).fuse".lowercased(),
                                   allowedFrom: allowed.map(\.name))
        }
    }

    public func policyInfo() throws -> API.PolicyInfo {
        if let stored = try store.policy() { return API.PolicyInfo(version: stored.version, text: stored.text, isDefault: false) }
        let encoder = API.prettyEncoder()
        let text = String(decoding: try encoder.encode(Policy.defaultPolicy(masterDomain: config.domain)), as: UTF8.self)
        return API.PolicyInfo(version: nil, text: text + "\n", isDefault: true)
    }

    /// Validates and stores a new policy version; the old one stays in force on any error.
    public func setPolicy(_ text: String) async throws -> API.PolicyInfo {
        let policy: Policy
        do {
            policy = try Policy.parse(text)
            try policy.validate(catalogue: try await stored { _ in try self.catalogue() })
        } catch {
            throw PolicyError.invalid("\(error)")
        }
        let date = now()
        let version = try await stored { try $0.setPolicy(text, now: date) }
        logger.info("policy set", metadata: ["version": "\(version)", "rules": "\(policy.rules.count)"])
        try await changed()
        // Answer when the policy is in force on every online node (they apply within ~0.3 s).
        let pending = await waitUntilApplied(distribution.current.version, timeout: .seconds(3))
        return API.PolicyInfo(version: version, text: text, isDefault: false, pendingOn: pending)
    }

    func catalogue() throws -> PolicyCatalogue {
        let nodes = try store.nodes()
        let exposures = try store.exposures()
        let domains = Set(nodes.map { $0.domain.lowercased() } + exposures.map { $0.domain.lowercased() } + (try store.tokens()).map { $0.domain.lowercased() })
        return PolicyCatalogue(nodes: nodes, exposures: exposures, domains: domains)
    }

    /// allow/deny and the deciding rule for a flow, without sending traffic. `destination` is
    /// an exposure or a node name (`exposure:NAME` / `node:NAME` to be explicit).
    public func testPolicy(_ request: API.PolicyTestRequest) throws -> PolicyDecision {
        let nodes = try store.nodes()
        let exposures = try store.exposures()
        let sourceName = request.source.hasPrefix("node:") ? String(request.source.dropFirst(5)) : request.source
        guard let source = nodes.first(where: { $0.name.lowercased() == sourceName.lowercased() }) else {
            throw NodeError.unknown(sourceName)
        }
        let destination: PolicyDestination
        let text = request.destination
        let named = { (prefix: String) -> String? in text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : nil }
        if let exposure = exposures.first(where: { $0.name.lowercased() == (named("exposure:") ?? text).lowercased() }), named("node:") == nil {
            destination = .exposure(exposure)
        } else if let node = nodes.first(where: { $0.name.lowercased() == (named("node:") ?? text).lowercased() }), named("exposure:") == nil {
            destination = .node(node)
        } else {
            throw PolicyError.unknownDestination(text)
        }
        if request.proto == .icmp, request.port != nil { throw PolicyError.icmpHasNoPort }
        return try policy().decide(source: source, destination: destination, proto: request.proto, port: request.port, context: try policyContext(nodes))
    }

    /// `NAME.DOMAIN.fuse` → the VPN address of that node, or of the node that exposes NAME.
    /// Answers from memory (the DNS responder calls it on an event loop).
    public func resolve(_ name: String) -> IPv4Address? {
        names.resolve(name, in: distribution.current)
    }
}
