import FuseModel
import Testing

/// Engine subnets, engine names, the Swarm's built-in flows and the containers' rules.
struct WorkloadTests {
    static func cidr(_ text: String) -> IPv4CIDR { try! IPv4CIDR(parsing: text) }
    static func address(_ text: String) -> IPv4Address { IPv4Address(text)! }

    @Test func engineSubnetsAreTheLowestFreeSlash24() throws {
        let range = Self.cidr("10.213.0.0/16")
        #expect(try EngineSubnet.allocate(in: range, excluding: []) == Self.cidr("10.213.0.0/24"))
        #expect(try EngineSubnet.allocate(in: range, excluding: [Self.cidr("10.213.0.0/24"), Self.cidr("10.213.2.0/24")]) == Self.cidr("10.213.1.0/24"))
        #expect(try EngineSubnet.allocate(in: Self.cidr("172.20.8.0/24"), excluding: []) == Self.cidr("172.20.8.0/24"))
    }

    @Test func engineRangesRunOutClearly() {
        #expect(throws: EngineSubnet.AllocationError.exhausted(Self.cidr("10.9.0.0/23"))) {
            try EngineSubnet.allocate(in: Self.cidr("10.9.0.0/23"), excluding: [Self.cidr("10.9.0.0/24"), Self.cidr("10.9.1.0/24")])
        }
        #expect(throws: EngineSubnet.AllocationError.rangeTooSmall(Self.cidr("10.9.0.0/25"))) {
            try EngineSubnet.allocate(in: Self.cidr("10.9.0.0/25"), excluding: [])
        }
    }

    @Test func aSubnetSplitsIntoTheBridgeAndTheGatewayBridge() {
        let subnet = EngineSubnet(Self.cidr("10.213.5.0/24"))
        #expect(subnet.bridgeAddress == "10.213.5.1/25")
        #expect(subnet.bridgeCIDR == Self.cidr("10.213.5.0/25"))
        #expect(subnet.gatewayBridgeCIDR == Self.cidr("10.213.5.128/25"))
        #expect(!subnet.bridgeCIDR.overlaps(subnet.gatewayBridgeCIDR))
    }

    @Test func engineNamesFitTheKernelsLimits() {
        let short = EngineNames(interface: "fuse0")
        #expect(short.bridge == "fuse0-d" && short.gatewayBridge == "fuse0-g")
        #expect(short.cgroupParent == "fuse-fuse0")
        #expect(short.socket == "/run/fuse-engine/fuse0/docker.sock")
        let long = EngineNames(interface: "averylonginterf")
        #expect(long.bridge.count <= 15 && long.gatewayBridge.count <= 15 && long.bridge != long.gatewayBridge)
    }

    @Test func workloadRangesAvoidTheVPNRange() throws {
        let standard = try WorkloadRanges.choose(vpn: Self.cidr("100.64.0.0/16"), engine: nil, overlay: nil)
        #expect(standard == (Self.cidr("10.213.0.0/16"), Self.cidr("10.214.0.0/16")))
        let wide = try WorkloadRanges.choose(vpn: Self.cidr("10.0.0.0/8"), engine: nil, overlay: nil)
        #expect(wide == (Self.cidr("172.29.0.0/16"), Self.cidr("172.30.0.0/16")))
        let given = try WorkloadRanges.choose(vpn: Self.cidr("100.64.0.0/16"), engine: nil, overlay: Self.cidr("10.213.0.0/16"))
        #expect(given == (Self.cidr("10.214.0.0/16"), Self.cidr("10.213.0.0/16")), "a default never takes a given range")
        #expect(throws: WorkloadRanges.RangeError.self) {
            try WorkloadRanges.choose(vpn: Self.cidr("10.213.0.0/16"), engine: Self.cidr("10.213.128.0/17"), overlay: nil)
        }
        #expect(throws: WorkloadRanges.RangeError.self) {
            try WorkloadRanges.choose(vpn: Self.cidr("100.64.0.0/16"), engine: Self.cidr("10.1.0.0/16"), overlay: Self.cidr("10.0.0.0/8"))
        }
        #expect(throws: WorkloadRanges.RangeError.self) {
            try WorkloadRanges.choose(vpn: Self.cidr("100.64.0.0/16"), engine: Self.cidr("10.1.0.0/25"), overlay: nil)
        }
        #expect(throws: WorkloadRanges.RangeError.self) {
            try WorkloadRanges.choose(vpn: Self.cidr("0.0.0.0/0"), engine: nil, overlay: nil)
        }
    }

    @Test func rangesOverlap() {
        #expect(Self.cidr("10.0.0.0/8").overlaps(Self.cidr("10.213.0.0/16")))
        #expect(Self.cidr("10.213.0.0/16").overlaps(Self.cidr("10.0.0.0/8")))
        #expect(!Self.cidr("10.213.0.0/16").overlaps(Self.cidr("10.214.0.0/16")))
    }

    // MARK: Policy: Swarm between nodes that run workloads

    static let subnet = cidr("10.213.0.0/24")
    static let master = NodeRecord(name: "master", domain: "crisis", address: address("100.64.0.1"), publicKey: Fig2.master.publicKey, isMaster: true, engineSubnet: cidr("10.213.0.0/24"))
    static let a1 = NodeRecord(name: "a1", domain: "companyA", address: address("100.64.0.2"), publicKey: Fig2.a1.publicKey, isMaster: false, engineSubnet: cidr("10.213.1.0/24"))
    static let b1 = NodeRecord(name: "b1", domain: "companyB", address: address("100.64.0.3"), publicKey: Fig2.b1.publicKey, isMaster: false, engineSubnet: cidr("10.213.2.0/24"))
    /// Exposes services only: no engine.
    static let b2 = NodeRecord(name: "b2", domain: "companyB", address: address("100.64.0.4"), publicKey: Fig2.b2.publicKey, isMaster: false)
    static let nodes = [master, a1, b1, b2]
    static let context = PolicyContext(master: master, apiPort: 7443)
    static let deny = Policy.defaultPolicy(masterDomain: "crisis")

    func firewall(_ node: NodeRecord) -> NodeFirewall {
        Self.deny.firewall(for: node, nodes: Self.nodes, exposures: [], context: Self.context)
    }

    @Test func workersLetSwarmInFromOtherEnginesOnly() {
        let flows = firewall(Self.a1).inbound
        let engines = [Self.address("100.64.0.1"), Self.address("100.64.0.3")]
        #expect(flows == [
            AllowedFlow(sources: engines, proto: .tcp, port: SwarmPorts.gossip),
            AllowedFlow(sources: engines, proto: .udp, port: SwarmPorts.dataPath),
            AllowedFlow(sources: engines, proto: .udp, port: SwarmPorts.gossip),
        ])
        #expect(firewall(Self.b2).inbound.isEmpty, "a node without an engine opens nothing for Swarm")
    }

    @Test func theMasterAlsoOpensTheManagerAndTheRegistry() {
        let flows = firewall(Self.master).inbound
        let engines = [Self.address("100.64.0.2"), Self.address("100.64.0.3")]
        for port in [SwarmPorts.manager, SwarmPorts.registry, SwarmPorts.gossip] {
            #expect(flows.contains { $0.proto == .tcp && $0.port == port && $0.sources == engines }, "tcp \(port)")
        }
        // The control plane stays open to every node, b2 included.
        #expect(flows.contains { $0.proto == .tcp && $0.port == 7443 && $0.sources.contains(Self.address("100.64.0.4")) })
    }

    @Test func theHubForwardsSwarmBetweenWorkerEnginesOnly() {
        let forward = firewall(Self.master).forward
        let engines = [Self.address("100.64.0.2"), Self.address("100.64.0.3")]
        #expect(!forward.isEmpty)
        #expect(forward.allSatisfy { $0.destinations == engines && $0.flow.sources == engines })
        #expect(forward.allSatisfy { [SwarmPorts.gossip, SwarmPorts.dataPath].contains($0.flow.port ?? 0) })
        #expect(!forward.contains { $0.flow.port == SwarmPorts.manager })
    }

    @Test func decisionsNameTheBuiltInRule() {
        let swarm = Self.deny.decide(source: Self.a1, destination: .node(Self.b1), proto: .udp, port: SwarmPorts.dataPath, context: Self.context)
        #expect(swarm == PolicyDecision(allowed: true, rule: Policy.workloadLabel))
        let registry = Self.deny.decide(source: Self.b1, destination: .node(Self.master), proto: .tcp, port: SwarmPorts.registry, context: Self.context)
        #expect(registry.allowed)
        let notAManager = Self.deny.decide(source: Self.a1, destination: .node(Self.b1), proto: .tcp, port: SwarmPorts.manager, context: Self.context)
        #expect(!notAManager.allowed)
        let noEngine = Self.deny.decide(source: Self.b2, destination: .node(Self.a1), proto: .tcp, port: SwarmPorts.gossip, context: Self.context)
        #expect(!noEngine.allowed)
    }

    // MARK: The containers' rules

    @Test func containersLeaveMasqueradedAndNothingComesInFromTheVPN() {
        let names = EngineNames(interface: "fl-a1")
        let text = NodeRuleset.render(interface: "fl-a1", cidr: Self.cidr("100.64.0.0/16"), address: Self.address("100.64.0.2"),
                                      firewall: NodeFirewall(), isHub: false, containers: ContainerEgress(engine: Self.cidr("10.213.1.0/24"), names: names)).text
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let accept = lines.firstIndex(of: #"iifname { "fl-a1-d", "fl-a1-g" } oifname "fl-a1" accept"#)
        let drop = lines.firstIndex(of: #"oifname "fl-a1" drop"#)
        #expect(accept != nil && drop != nil && accept! < drop!, "containers reach the VPN before the final drop:\n\(text)")
        #expect(lines.contains(#"ip saddr 10.213.1.0/24 oifname != { "fl-a1-d", "fl-a1-g" } masquerade"#))
        #expect(lines.contains("type nat hook postrouting priority srcnat; policy accept;"))
        #expect(!lines.contains { $0.hasPrefix(#"iifname "fl-a1""#) && $0.contains("fl-a1-d") }, "nothing from the VPN to the containers")
        // The node's VPN address: through the tunnel, from the node itself and from its own containers only.
        #expect(lines.contains(#"ip daddr 100.64.0.2 iifname != { "lo", "fl-a1", "fl-a1-d", "fl-a1-g" } drop"#))
        // From a LAN to the containers: only answers to what they sent.
        let answers = lines.firstIndex(of: #"oifname { "fl-a1-d", "fl-a1-g" } ct state established,related accept"#)
        let fromLAN = lines.firstIndex(of: #"oifname { "fl-a1-d", "fl-a1-g" } iifname != { "fl-a1-d", "fl-a1-g" } drop"#)
        #expect(answers != nil && fromLAN != nil && answers! < fromLAN!, "\(text)")
    }
}
