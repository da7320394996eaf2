import FuseModel
import Testing

@Suite struct NodeRulesetTests {
    let cidr = try! IPv4CIDR(parsing: "100.64.0.0/16")

    @Test func workerWithoutFlows() {
        #expect(NodeRuleset.render(interface: "fl-a1", cidr: cidr, address: IPv4Address("100.64.0.2")!, firewall: NodeFirewall(), isHub: false).text == """
            table inet fuse_fl_a1
            delete table inet fuse_fl_a1
            table inet fuse_fl_a1 {
              chain input {
                type filter hook input priority filter; policy accept;
                ip daddr 100.64.0.2 iifname != { "lo", "fl-a1" } drop
                iifname "fl-a1" ip saddr != 100.64.0.0/16 drop
                iifname "fl-a1" ct state established,related accept
                iifname "fl-a1" drop
              }
              chain forward {
                type filter hook forward priority filter; policy accept;
                iifname "fl-a1" ip saddr != 100.64.0.0/16 drop
                iifname "fl-a1" ct state established,related accept
                oifname "fl-a1" ct state established,related accept
                iifname "fl-a1" drop
                oifname "fl-a1" drop
              }
            }

            """)
    }

    @Test func hubWithoutFlowsForwardsNothing() {
        let ruleset = NodeRuleset.render(interface: "fuse0", cidr: cidr, address: IPv4Address("100.64.0.1")!, firewall: NodeFirewall(), isHub: true)
        #expect(ruleset == NodeRuleset.render(interface: "fuse0", cidr: cidr, address: IPv4Address("100.64.0.1")!, firewall: NodeFirewall(), isHub: false))
        #expect(!ruleset.text.contains("oifname \"fuse0\" accept"))
    }

    @Test func workerWithFlowsAndAnExposure() {
        let a = IPv4Address("100.64.0.1")!, b = IPv4Address("100.64.0.3")!
        let camera = Exposure(name: "camera", node: "a1", domain: "companyA", proto: .tcp, port: 8554, target: IPv4Address("192.168.10.11")!, targetPort: 554)
        let dns = Exposure(name: "dns", node: "a1", domain: "companyA", proto: .udp, port: 5353, target: IPv4Address("192.168.10.2")!, targetPort: 53)
        let closed = Exposure(name: "closed", node: "a1", domain: "companyA", proto: .tcp, port: 9000, target: IPv4Address("192.168.10.3")!, targetPort: 80)
        let firewall = NodeFirewall(
            inbound: [
                AllowedFlow(sources: [b], proto: .tcp, port: nil),
                AllowedFlow(sources: [a, b], proto: .tcp, port: 22),
                AllowedFlow(sources: [], proto: .tcp, port: 23),
                AllowedFlow(sources: [a], proto: .udp, port: nil),
                AllowedFlow(sources: [a, b], proto: .icmp, port: nil),
            ],
            exposures: [ExposureRule(exposure: camera, sources: [a, b]), ExposureRule(exposure: dns, sources: [b]), ExposureRule(exposure: closed, sources: [])],
            forward: [ForwardFlow(destinations: [b], flow: AllowedFlow(sources: [a], proto: .tcp, port: 1))] // not a hub: ignored
        )
        let ruleset = NodeRuleset.render(interface: "fl-a1", cidr: cidr, address: IPv4Address("100.64.0.2")!, firewall: firewall, isHub: false)
        #expect(ruleset.inlined == """
            table inet fuse_fl_a1
            delete table inet fuse_fl_a1
            table inet fuse_fl_a1 {
              chain input {
                type filter hook input priority filter; policy accept;
                ip daddr 100.64.0.2 iifname != { "lo", "fl-a1" } drop
                iifname "fl-a1" ip saddr != 100.64.0.0/16 drop
                iifname "fl-a1" ct state established,related accept
                iifname "fl-a1" ip saddr 100.64.0.3 meta l4proto tcp accept
                iifname "fl-a1" ip saddr { 100.64.0.1, 100.64.0.3 } tcp dport 22 accept
                iifname "fl-a1" ip saddr 100.64.0.1 meta l4proto udp accept
                iifname "fl-a1" ip saddr { 100.64.0.1, 100.64.0.3 } icmp type echo-request accept
                iifname "fl-a1" ip saddr { 100.64.0.1, 100.64.0.3 } ip daddr 192.168.10.11 tcp dport 554 ct status dnat accept
                iifname "fl-a1" ip saddr 100.64.0.3 ip daddr 192.168.10.2 udp dport 53 ct status dnat accept
                iifname "fl-a1" drop
              }
              chain forward {
                type filter hook forward priority filter; policy accept;
                iifname "fl-a1" ip saddr != 100.64.0.0/16 drop
                iifname "fl-a1" ct state established,related accept
                oifname "fl-a1" ct state established,related accept
                iifname "fl-a1" ip saddr { 100.64.0.1, 100.64.0.3 } ip daddr 192.168.10.11 tcp dport 554 ct status dnat accept
                iifname "fl-a1" ip saddr 100.64.0.3 ip daddr 192.168.10.2 udp dport 53 ct status dnat accept
                iifname "fl-a1" drop
                oifname "fl-a1" drop
              }
              chain prerouting {
                type nat hook prerouting priority dstnat; policy accept;
                iifname "fl-a1" ip daddr 100.64.0.2 ip saddr { 100.64.0.1, 100.64.0.3 } tcp dport 8554 dnat ip to 192.168.10.11:554
                iifname "fl-a1" ip daddr 100.64.0.2 ip saddr 100.64.0.3 udp dport 5353 dnat ip to 192.168.10.2:53
              }
              chain postrouting {
                type nat hook postrouting priority srcnat; policy accept;
                ct status dnat ct original ip daddr 100.64.0.2 masquerade
              }
            }

            """)
        // What nft loads: named sets (a flow without sources has none), referenced by the rules.
        #expect(ruleset.sets.map(\.name) == ["in0", "in1", "in3", "in4", "exposure0", "exposure1"])
        #expect(ruleset.sets.map(\.elements) == [[b], [a, b], [a], [a, b], [a, b], [b]])
        #expect(ruleset.text.contains("""
              set in1 {
                type ipv4_addr
                elements = { 100.64.0.1, 100.64.0.3 }
              }
            """))
        #expect(ruleset.text.contains(#"iifname "fl-a1" ip daddr 100.64.0.2 ip saddr @exposure0 tcp dport 8554 dnat ip to 192.168.10.11:554"#))
        #expect(ruleset.skeleton == ruleset.text.replacingOccurrences(of: #"\n    elements = \{[^}]*\}"#, with: "", options: .regularExpression))
    }

    @Test func hubForwardsTheFig2Policy() throws {
        let policy = try Policy.parse(Fig2.customText)
        let firewall = policy.firewall(for: Fig2.master, nodes: Fig2.nodes, exposures: Fig2.exposures, context: Fig2.context)
        let ruleset = NodeRuleset.render(interface: "fuse0", cidr: cidr, address: Fig2.master.address, firewall: firewall, isHub: true)
        #expect(ruleset.inlined == """
            table inet fuse_fuse0
            delete table inet fuse_fuse0
            table inet fuse_fuse0 {
              chain input {
                type filter hook input priority filter; policy accept;
                ip daddr 100.64.0.1 iifname != { "lo", "fuse0" } drop
                iifname "fuse0" ip saddr != 100.64.0.0/16 drop
                iifname "fuse0" ct state established,related accept
                iifname "fuse0" ip saddr { 100.64.0.2, 100.64.0.3, 100.64.0.4 } tcp dport 53 accept
                iifname "fuse0" ip saddr { 100.64.0.2, 100.64.0.3, 100.64.0.4 } tcp dport 7443 accept
                iifname "fuse0" ip saddr { 100.64.0.2, 100.64.0.3, 100.64.0.4 } udp dport 53 accept
                iifname "fuse0" ip saddr { 100.64.0.2, 100.64.0.3, 100.64.0.4 } icmp type echo-request accept
                iifname "fuse0" drop
              }
              chain forward {
                type filter hook forward priority filter; policy accept;
                iifname "fuse0" ip saddr != 100.64.0.0/16 drop
                iifname "fuse0" ct state established,related accept
                oifname "fuse0" ct state established,related accept
                iifname "fuse0" oifname "fuse0" ip saddr { 100.64.0.2, 100.64.0.3, 100.64.0.4 } ip daddr { 100.64.0.2, 100.64.0.3, 100.64.0.4 } icmp type echo-request accept
                iifname "fuse0" oifname "fuse0" ip saddr 100.64.0.2 ip daddr 100.64.0.4 tcp dport 22 accept
                iifname "fuse0" oifname "fuse0" ip saddr 100.64.0.2 ip daddr 100.64.0.4 tcp dport 80 accept
                iifname "fuse0" oifname "fuse0" ip saddr { 100.64.0.3, 100.64.0.4 } ip daddr { 100.64.0.3, 100.64.0.4 } meta l4proto tcp accept
                iifname "fuse0" oifname "fuse0" ip saddr { 100.64.0.3, 100.64.0.4 } ip daddr { 100.64.0.3, 100.64.0.4 } meta l4proto udp accept
                iifname "fuse0" oifname "fuse0" ip saddr { 100.64.0.3, 100.64.0.4 } ip daddr { 100.64.0.3, 100.64.0.4 } icmp type echo-request accept
                iifname "fuse0" oifname "fuse0" ip saddr { 100.64.0.3, 100.64.0.4 } ip daddr 100.64.0.2 tcp dport 8554 accept
                iifname "fuse0" oifname "fuse0" ip saddr 100.64.0.3 ip daddr 100.64.0.4 tcp dport 5432 accept
                iifname "fuse0" drop
                oifname "fuse0" drop
              }
            }

            """)
    }

    /// A join or a leave (addresses only) is a few set elements; a changed rule, the chains
    /// written again with the sets that came or went — never the elements of a set both have.
    @Test func changesApplyByElementAndChainNeverByTheWholeTable() throws {
        let a = IPv4Address("100.64.0.2")!, b = IPv4Address("100.64.0.3")!, c = IPv4Address("100.64.0.4")!
        func hub(_ sources: [IPv4Address], forwardTo destinations: [IPv4Address], port: UInt16 = 22) -> RenderedRuleset {
            let firewall = NodeFirewall(inbound: [AllowedFlow(sources: sources, proto: .tcp, port: 7443)],
                                        forward: [ForwardFlow(destinations: destinations, flow: AllowedFlow(sources: [a], proto: .tcp, port: port))])
            return NodeRuleset.render(interface: "fuse0", cidr: cidr, address: IPv4Address("100.64.0.1")!, firewall: firewall, isHub: true)
        }
        let before = hub([a, b], forwardTo: [b])
        let joined = hub([a, b, c], forwardTo: [b, c])
        #expect(joined.changes(from: before) == """
            add element inet fuse_fuse0 in0 { 100.64.0.4 }
            add element inet fuse_fuse0 forward0_to { 100.64.0.4 }

            """)
        #expect(before.changes(from: joined) == """
            delete element inet fuse_fuse0 in0 { 100.64.0.4 }
            delete element inet fuse_fuse0 forward0_to { 100.64.0.4 }

            """)
        // One forward rule per group, its sources and destinations in two sets.
        #expect(joined.text.contains(#"iifname "fuse0" oifname "fuse0" ip saddr @forward0_from ip daddr @forward0_to tcp dport 22 accept"#))
        #expect(joined.sets.first { $0.name == "forward0_to" }?.elements == [b, c])
        #expect(joined.changes(from: joined) == nil, "nothing changed")
        // A rule changed: both chains flushed and declared again, no set touched.
        let ported = hub([a, b], forwardTo: [b], port: 23)
        let portChange = try #require(ported.changes(from: before))
        #expect(portChange.hasPrefix("""
            flush chain inet fuse_fuse0 input
            flush chain inet fuse_fuse0 forward
            table inet fuse_fuse0 {
              chain input {
                type filter hook input priority filter; policy accept;
            """))
        #expect(portChange.contains(#"ip saddr @forward0_from ip daddr @forward0_to tcp dport 23 accept"#))
        #expect(!portChange.contains("set ") && !portChange.contains("element") && !portChange.contains("delete table"))
        // A rule went, and its sets with it (after the flush that removed the rule using them).
        let gone = try #require(hub([a, b], forwardTo: []).changes(from: before))
        #expect(gone.hasPrefix("""
            flush chain inet fuse_fuse0 input
            flush chain inet fuse_fuse0 forward
            delete set inet fuse_fuse0 forward0_from
            delete set inet fuse_fuse0 forward0_to
            table inet fuse_fuse0 {

            """))
        #expect(!gone.contains("@forward0"))
        // An exposure came: its sources' set declared with its elements, the nat chains added;
        // an address more in in0 by element, in the same transaction.
        let camera = Exposure(name: "cam", node: "hub", domain: "crisis", proto: .tcp, port: 8554, target: IPv4Address("192.168.1.20")!, targetPort: 554)
        let exposed = NodeRuleset.render(interface: "fuse0", cidr: cidr, address: IPv4Address("100.64.0.1")!,
                                         firewall: NodeFirewall(inbound: [AllowedFlow(sources: [a, b, c], proto: .tcp, port: 7443)],
                                                                exposures: [ExposureRule(exposure: camera, sources: [c])],
                                                                forward: [ForwardFlow(destinations: [b], flow: AllowedFlow(sources: [a], proto: .tcp, port: 22))]),
                                         isHub: true)
        let exposure = try #require(exposed.changes(from: before))
        #expect(exposure.contains("add element inet fuse_fuse0 in0 { 100.64.0.4 }\n"))
        #expect(exposure.contains("  set exposure0 {\n    type ipv4_addr\n    elements = { 100.64.0.4 }\n  }"))
        #expect(exposure.contains("  chain prerouting {") && exposure.contains("  chain postrouting {"))
        #expect(!exposure.contains("delete"))
        // And back: the nat chains flushed, then deleted, then the exposure's set.
        let unexposed = try #require(before.changes(from: exposed))
        #expect(unexposed.contains("""
            flush chain inet fuse_fuse0 postrouting
            delete chain inet fuse_fuse0 prerouting
            delete chain inet fuse_fuse0 postrouting
            delete set inet fuse_fuse0 exposure0
            delete element inet fuse_fuse0 in0 { 100.64.0.4 }
            """))
        // Another table is never changed from this one.
        let other = NodeRuleset.render(interface: "fuse1", cidr: cidr, address: IPv4Address("100.64.0.1")!, firewall: NodeFirewall(), isHub: true)
        #expect(other.changes(from: before) == nil)
    }

    /// The hub's map by group: a field node joining is one address more in the groups it
    /// belongs to, applied by element, whatever the federation's size.
    @Test func aJoinAddsItsAddressToTheHubsGroups() throws {
        let policy = try Policy.parse(#"{"rules": [{"from": ["domain:ops"], "to": ["domain:field"], "proto": "tcp", "ports": [22]}]}"#)
        let master = NodeRecord(name: "master", domain: "crisis", address: IPv4Address("100.64.0.1")!, publicKey: key(1), isMaster: true)
        let ops = NodeRecord(name: "ops1", domain: "ops", address: IPv4Address("100.64.0.2")!, publicKey: key(2), isMaster: false)
        let field = (0..<4).map { NodeRecord(name: "f\($0)", domain: "field", address: IPv4Address(0x6440_0010 + UInt32($0)), publicKey: key(UInt8(16 + $0)), isMaster: false) }
        func hub(fieldNodes count: Int) -> (NodeFirewall, RenderedRuleset) {
            let firewall = policy.firewall(for: master, nodes: [master, ops] + field.prefix(count), exposures: [], context: PolicyContext(master: master, apiPort: 7443))
            return (firewall, NodeRuleset.render(interface: "fuse0", cidr: cidr, address: master.address, firewall: firewall, isHub: true))
        }
        let (before, beforeRuleset) = hub(fieldNodes: 3), (after, afterRuleset) = hub(fieldNodes: 4)
        #expect(before.forward == [ForwardFlow(destinations: field.prefix(3).map(\.address), flow: AllowedFlow(sources: [ops.address], proto: .tcp, port: 22))])
        #expect(after.forward == [ForwardFlow(destinations: field.map(\.address), flow: AllowedFlow(sources: [ops.address], proto: .tcp, port: 22))])
        // The control-plane flows from every node (DNS over tcp and udp, the API: in0–in2) and the group's destinations.
        #expect(afterRuleset.changes(from: beforeRuleset) == (["in0", "in1", "in2", "forward0_to"].map {
            "add element inet fuse_fuse0 \($0) { 100.64.0.19 }\n"
        }.joined()))
    }

    @Test func tableNames() {
        #expect(NodeRuleset.tableName(interface: "fl-a1") == "fuse_fl_a1")
        #expect(NodeRuleset.tableName(interface: "fuse0") == "fuse_fuse0")
        #expect(NodeRuleset.tableName(interface: "wg.0@x") == "fuse_wg_0_x")
    }
}

@Suite struct NameRuleTests {
    @Test func labels() throws {
        #expect(try NameRule.label("companyA", kind: "domain") == "companyA", "the case people typed is kept")
        #expect(try NameRule.label("a", kind: "node") == "a")
        #expect(try NameRule.label("node-1", kind: "node") == "node-1")
        #expect(try NameRule.label("0day", kind: "node") == "0day")
        #expect(try NameRule.label(String(repeating: "x", count: 63), kind: "node").count == 63)
        for bad in ["", String(repeating: "x", count: 64), "-a", "a-", "-", "a_b", "a.b", "a b", "ä", "a/b"] {
            #expect(throws: NameRule.Invalid.self, "\(bad) must be refused") { try NameRule.label(bad, kind: "node") }
        }
        expectThrowing(NameRule.Invalid.self, "bad node name \"-a\": use 1-63 letters, digits or '-', not starting or ending with '-'") {
            try NameRule.label("-a", kind: "node")
        }
    }

    @Test func interfaces() throws {
        #expect(try NameRule.interface("fuse0") == "fuse0")
        #expect(try NameRule.interface("fl-a1") == "fl-a1")
        #expect(try NameRule.interface("abcdefghijklmno") == "abcdefghijklmno") // 15
        for bad in ["abcdefghijklmnop" /* 16 */, "", ".", "..", "a/b", "a:b", "a b", "a\tb", "wgé"] {
            #expect(throws: NameRule.Invalid.self, "\(bad) must be refused") { try NameRule.interface(bad) }
        }
        expectThrowing(NameRule.Invalid.self, "bad interface name \"abcdefghijklmnop\": use 1-15 ASCII characters without '/', ':' or spaces") {
            try NameRule.interface("abcdefghijklmnop")
        }
    }

    @Test func ports() throws {
        #expect(try NameRule.port(1, kind: "API") == 1)
        #expect(try NameRule.port(51820, kind: "WireGuard") == 51820)
        #expect(try NameRule.port(65535, kind: "API") == 65535)
        for bad in [0, -1, 65536, 100_000] {
            #expect(throws: NameRule.Invalid.self) { try NameRule.port(bad, kind: "API") }
        }
        expectThrowing(NameRule.Invalid.self, "bad API port 0: use 1-65535") { try NameRule.port(0, kind: "API") }
    }

    @Test func hosts() throws {
        #expect(try NameRule.host("203.0.113.10") == "203.0.113.10")
        #expect(try NameRule.host("Master.Example.ORG") == "master.example.org")
        #expect(try NameRule.host("localhost") == "localhost")
        #expect(try NameRule.host("a-1.b2") == "a-1.b2")
        let long = Array(repeating: String(repeating: "a", count: 63), count: 4).joined(separator: ".") // 255 chars
        for bad in ["", "1.2.3", "1.2.3.256", "256.1.1.1", "a..b", "-a.example", "a_b.example", "example.org.", ".example", "a b", "host:1", long] {
            #expect(throws: NameRule.Invalid.self, "\(bad) must be refused") { try NameRule.host(bad) }
        }
        expectThrowing(NameRule.Invalid.self, "bad endpoint host \"a..b\": use an IPv4 address or a DNS name") {
            try NameRule.host("a..b")
        }
    }
}
