import Foundation
import FuseModel

/// What the dashboard shows and who may push streams to it.
extension ControlPlane {
    /// The federation as the dashboard shows it, now.
    public func federationView() async throws -> FederationView {
        // The facts first (the awaits and the store), then one synchronous assembly: a small
        // async function (Swift 6.3's optimizer crashed splitting the large one in release builds).
        let current = now()
        let inputs = ViewInputs(
            records: try store.nodes(), nodes: try await nodes(), version: try store.mapVersion(), sample: dashboard.monitor.withLock { $0 },
            dues: await distribution.watch.dues(), services: try services(), policyVersion: try store.policy()?.version,
            policyRules: try policy().rules.count, streams: await dashboard.streams.views(at: current))
        return Self.federationView(inputs, federation: config.federation, masterDomain: config.domain, at: current)
    }

    struct ViewInputs {
        let records: [NodeRecord]
        let nodes: [API.NodeInfo]
        let version: Int64
        let sample: Dashboard.MonitorSample
        let dues: (everyone: Int64, nodes: [String: Int64])
        let services: [API.ServiceInfo]
        let policyVersion: Int64?
        let policyRules: Int
        let streams: [FederationView.StreamView]
    }

    static func federationView(_ inputs: ViewInputs, federation: String, masterDomain: String, at current: Date) -> FederationView {
        let sample = inputs.sample, version = inputs.version, dues = inputs.dues
        var views: [FederationView.NodeView] = []
        for node in inputs.nodes {
            let record = inputs.records.first { $0.name == node.name }
            let tunnel = node.isMaster ? nil : record.flatMap { sample.peers[$0.publicKey] }.map { peer in
                FederationView.TunnelView(
                    lastHandshake: peer.lastHandshake > 0 ? Date(timeIntervalSince1970: TimeInterval(peer.lastHandshake)) : nil,
                    receivedBytes: peer.receivedBytes, sentBytes: peer.sentBytes, rttMilliseconds: sample.roundTrips[node.name], endpoint: peer.endpoint,
                    path: node.path)
            }
            views.append(FederationView.NodeView(
                name: node.name, domain: node.domain, role: node.isMaster ? "master" : "worker", address: node.address.description,
                online: node.online, lastSeen: node.lastSeen, appliedVersion: node.mapVersion, versionLag: node.mapVersion.map { max(0, min(version, max(dues.everyone, dues.nodes[node.name] ?? 0)) - $0) },
                runsWorkloads: node.workloads, tasks: sample.tasks[node.name] ?? [], tunnel: tunnel))
        }
        let domains = Dictionary(grouping: views, by: \.domain).map { FederationView.DomainView(name: $0.key, nodes: $0.value.sorted { ($0.role, $0.name) < ($1.role, $1.name) }) }
            .sorted { ($0.name.lowercased() == masterDomain.lowercased() ? 0 : 1, $0.name.lowercased()) < ($1.name.lowercased() == masterDomain.lowercased() ? 0 : 1, $1.name.lowercased()) }
        let exposures = inputs.services.map {
            FederationView.ExposureView(name: $0.name, domain: $0.domain, node: $0.node, dnsName: $0.dnsName, port: $0.port, proto: $0.proto.rawValue, allowedFrom: $0.allowedFrom)
        }
        let online = views.filter(\.online)
        let policy = FederationView.PolicyState(
            version: inputs.policyVersion, rules: inputs.policyRules,
            appliedBy: online.filter { ($0.versionLag ?? 1) == 0 }.map(\.name), pendingOn: online.filter { ($0.versionLag ?? 1) > 0 }.map(\.name))
        return FederationView(federation: federation, generatedAt: current, mapVersion: version, policy: policy, domains: domains,
                              exposures: exposures, streams: inputs.streams)
    }

    /// The node that may push a stream of `domain` from `source` (the TCP peer address): a
    /// node's relay pushes over the tunnel, so the source is the node's VPN address, which
    /// WireGuard binds to the node's key; the stream must belong to that node's domain.
    func streamPusher(source: String?, domain: String) throws -> NodeRecord {
        guard let source, let address = IPv4Address(source), config.cidr.contains(address) else {
            throw StreamError.notOverTheFederation
        }
        guard let node = try store.nodes().first(where: { $0.address == address }) else {
            throw StreamError.notANode(address)
        }
        guard node.domain.lowercased() == domain.lowercased() else {
            throw StreamError.otherDomain(node: node.name, nodeDomain: node.domain, domain: domain)
        }
        return node
    }

    /// A dashboard login for `fuse dashboard`.
    public func dashboardLogin(ttlSeconds: Int) throws -> API.DashboardLogin {
        guard (1...(30 * 86400)).contains(ttlSeconds) else { throw DashboardError.badTTL }
        let (token, expires) = dashboard.logins.withLock { $0.issue(ttl: TimeInterval(ttlSeconds), now: now()) }
        logger.info("dashboard login issued", metadata: ["expires": "\(expires.formatted(.iso8601))"])
        return API.DashboardLogin(url: "https://\(config.endpoint):\(config.apiPort)/dashboard/", token: token, expiresAt: expires)
    }
}
