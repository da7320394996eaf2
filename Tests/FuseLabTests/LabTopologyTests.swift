import Foundation
import Testing
@testable import FuseLab

@Suite struct LabTopologyTests {
    @Test func standardTopologyHasTheNodesOfFigureOne() throws {
        let lab = try LabTopology.standard(prefix: "fl-")
        #expect(lab.nodes.map(\.id) == ["wan", "crisis-r", "master", "op", "a-r", "a1", "cam", "b-r", "b1", "b2", "store"])
        #expect(lab.nodes.allSatisfy { $0.namespace == "fl-" + $0.id })
        #expect(lab.federatedNodes.map(\.id) == ["master", "a1", "b1", "b2"])
        #expect(lab.nodes.filter { $0.role == .nonFederated }.map(\.id) == ["op", "cam", "store"])
        #expect(lab.nodes.filter { $0.role == .router }.map(\.id) == ["crisis-r", "a-r", "b-r"])
        #expect(lab.masterEndpoint == "172.31.1.2")
        #expect(lab.runDirectory == "/run/fuse-lab/fl-")
        #expect(lab.descriptionFile == "/run/fuse-lab/fl-/lab.json")
        #expect(lab.domains.map(\.lan) == ["10.10.0.0/24", "192.168.10.0/24", "192.168.20.0/24"])
        #expect(lab.domains.map(\.routerWANAddress) == ["172.31.1.2", "172.31.2.2", "172.31.3.2"])
        #expect(lab.domains.map(\.wanSideAddress) == ["172.31.1.1", "172.31.2.1", "172.31.3.1"])
    }

    @Test func hostsGetAddressesFromTenUpAndTheRouterAsGateway() throws {
        let lab = try LabTopology.standard()
        let expected: [String: (String, String, String)] = [
            "master": ("crisis", "10.10.0.10", "10.10.0.1"), "op": ("crisis", "10.10.0.11", "10.10.0.1"),
            "a1": ("companyA", "192.168.10.10", "192.168.10.1"), "cam": ("companyA", "192.168.10.11", "192.168.10.1"),
            "b1": ("companyB", "192.168.20.10", "192.168.20.1"), "b2": ("companyB", "192.168.20.11", "192.168.20.1"),
            "store": ("companyB", "192.168.20.12", "192.168.20.1"),
        ]
        for (id, (domain, address, gateway)) in expected {
            let node = try #require(lab.node(id))
            #expect(node.domain == domain)
            #expect(node.lanAddress == address)
            #expect(node.gateway == gateway)
        }
        #expect(lab.node("crisis-r")?.wanAddress == "172.31.1.2")
        #expect(lab.node("fl-a1")?.id == "a1")  // lookup by namespace name
        #expect(lab.node("nosuch") == nil)
    }

    @Test func federatedNodesGetStateDirectoryAndInterface() throws {
        let lab = try LabTopology.standard(prefix: "t1-")
        let master = try #require(lab.node("master"))
        #expect(master.interface == "t1-master")
        #expect(master.stateDir == "/run/fuse-lab/t1-/master")
        #expect(master.fuseEnvironment == ["FUSE_STATE_DIR": "/run/fuse-lab/t1-/master", "FUSE_INTERFACE": "t1-master"])
        let camera = try #require(lab.node("cam"))
        #expect(camera.interface == nil)
        #expect(camera.stateDir == nil)
        #expect(camera.fuseEnvironment.isEmpty)
        #expect(lab.interfaceNames == ["t1-master", "t1-a1", "t1-b1", "t1-b2"])
    }

    @Test func longestPrefixStillFitsInterfaceNames() throws {
        let lab = try LabTopology.standard(prefix: "abcdef")
        #expect(lab.interfaceNames.allSatisfy { $0.utf8.count <= 15 })
        #expect(lab.interfaceNames.contains("abcdefmaster"))
    }

    @Test(arguments: ["", "ABC", "abcdefg", "a_b", "a b", "fl.", "é"])
    func invalidPrefixesAreRefused(prefix: String) {
        #expect(throws: LabError.self) { try LabTopology.standard(prefix: prefix) }
    }

    @Test(arguments: ["x", "fl-", "abc123", "------"])
    func validPrefixesAreAccepted(prefix: String) throws {
        _ = try LabTopology.standard(prefix: prefix)
    }

    @Test func portsAreValidated() {
        #expect(throws: LabError.self) { try LabTopology.standard(apiPort: 0) }
        #expect(throws: LabError.self) { try LabTopology.standard(wgPort: 65536) }
    }

    @Test func duplicateInterfaceNamesAreRefused() throws {
        let lab = try LabTopology.standard()
        var nodes = lab.nodes
        let a1 = try #require(lab.node("a1"))
        nodes.append(LabNode(id: "a-1", namespace: "fl-a-1", domain: "companyA", role: .federated, lanAddress: "192.168.10.20",
                             lanPrefixLength: 24, gateway: "192.168.10.1", wanAddress: nil, routerPort: "h-a-1",
                             interface: a1.interface, stateDir: "/run/fuse-lab/fl-/a-1"))
        let broken = LabTopology(prefix: lab.prefix, apiPort: lab.apiPort, wgPort: lab.wgPort, domains: lab.domains, nodes: nodes,
                                 masterNodeId: lab.masterNodeId, masterEndpoint: lab.masterEndpoint, runDirectory: lab.runDirectory)
        #expect(throws: LabError.self) { try broken.validateNames() }
    }

    @Test func descriptionRoundTripsThroughJSON() throws {
        let lab = try LabTopology.standard(prefix: "rt-", apiPort: 8443, wgPort: 51999)
        let data = try JSONEncoder().encode(lab)
        #expect(try JSONDecoder().decode(LabTopology.self, from: data) == lab)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["masterEndpoint"] as? String == "172.31.1.2")
        #expect(object["apiPort"] as? Int == 8443)
        #expect(object["wgPort"] as? Int == 51999)
    }
}

@Suite struct RouterRulesetTests {
    @Test func crisisRouterPublishesTheMastersPorts() throws {
        let lab = try LabTopology.standard(apiPort: 7443, wgPort: 51820)
        let crisis = try #require(lab.domain("crisis"))
        #expect(lab.routerRuleset(of: crisis) == """
            table inet fuselab {
            \tchain prerouting {
            \t\ttype nat hook prerouting priority dstnat; policy accept;
            \t\tip daddr 172.31.1.2 tcp dport 7443 dnat ip to 10.10.0.10
            \t\tip daddr 172.31.1.2 udp dport 51820 dnat ip to 10.10.0.10
            \t}
            \tchain postrouting {
            \t\ttype nat hook postrouting priority srcnat; policy accept;
            \t\toifname "wan0" masquerade
            \t\tip saddr 10.10.0.0/24 ip daddr 10.10.0.10 ct status dnat masquerade
            \t}
            \tchain input {
            \t\ttype filter hook input priority filter; policy accept;
            \t\tiifname "wan0" ct state established,related accept
            \t\tiifname "wan0" drop
            \t}
            \tchain forward {
            \t\ttype filter hook forward priority filter; policy accept;
            \t\tct state established,related accept
            \t\tiifname "wan0" ct status dnat accept
            \t\tiifname "wan0" drop
            \t}
            }

            """)
    }

    @Test func companyRoutersPublishNothing() throws {
        let lab = try LabTopology.standard()
        for name in ["companyA", "companyB"] {
            let domain = try #require(lab.domain(name))
            let ruleset = lab.routerRuleset(of: domain)
            #expect(!ruleset.contains("dnat"))
            #expect(ruleset.contains("oifname \"wan0\" masquerade"))
            #expect(ruleset.contains("\t\tiifname \"wan0\" drop\n\t}\n}"))
        }
    }

    @Test func portOptionsReachTheRuleset() throws {
        let lab = try LabTopology.standard(apiPort: 9443, wgPort: 41820)
        let ruleset = lab.routerRuleset(of: try #require(lab.domain("crisis")))
        #expect(ruleset.contains("tcp dport 9443 dnat ip to 10.10.0.10"))
        #expect(ruleset.contains("udp dport 41820 dnat ip to 10.10.0.10"))
    }
}

@Suite struct LabPlanTests {
    @Test func nothingIsCreatedOutsideTheLabsNamespaces() throws {
        let lab = try LabTopology.standard(prefix: "t2-")
        let namespaces = Set(lab.namespaces)
        let commands = lab.setupCommands()
        #expect(commands.filter { $0.argv.starts(with: ["ip", "netns", "add"]) }.map { $0.argv[3] } == lab.namespaces)
        for command in commands {
            let argv = command.argv
            if argv.starts(with: ["ip", "netns", "add"]) { continue }
            if argv.first == "ip" {
                #expect(argv[1] == "-n" && namespaces.contains(argv[2]), "\(command)")
                if let peer = argv.firstIndex(of: "peer") {
                    #expect(argv[peer + 3] == "netns" && namespaces.contains(argv[peer + 4]), "\(command)")
                }
            } else {
                #expect(argv[0] == "nsenter", "\(command)")
                #expect(namespaces.contains(String(argv[1].dropFirst("--net=/var/run/netns/".count))), "\(command)")
            }
        }
    }

    @Test func hostsAreWiredToTheirRoutersBridge() throws {
        let lab = try LabTopology.standard()
        let commands = lab.setupCommands().map(\.description)
        #expect(commands.contains("ip -n fl-a-r link add h-a1 type veth peer name eth0 netns fl-a1"))
        #expect(commands.contains("ip -n fl-a-r link set h-a1 master lan0"))
        #expect(commands.contains("ip -n fl-a1 addr add 192.168.10.10/24 dev eth0"))
        #expect(commands.contains("ip -n fl-a1 route add default via 192.168.10.1"))
        #expect(commands.contains("ip -n fl-wan link add r-companyB type veth peer name wan0 netns fl-b-r"))
        #expect(commands.contains("ip -n fl-b-r route add default via 172.31.3.1"))
        #expect(commands.contains("ip -n fl-crisis-r link set h-master type bridge_slave hairpin on"))
        #expect(!commands.contains { $0.contains("hairpin") && !$0.contains("h-master") })
        #expect(commands.filter { $0.contains("link set lo up") }.count == lab.nodes.count)
        let forwarding = commands.filter { $0.hasSuffix("sysctl -q -w net.ipv4.ip_forward=1") }
        #expect(forwarding.count == 4)  // the WAN and three routers, no hosts
        #expect(!commands.contains { $0.contains("route add") && $0.contains("fl-wan ") })  // the WAN routes no LANs
    }

    @Test func shellScriptQuotesAndStopsAtTheFirstFailure() {
        let script = renderShellScript([
            LabCommand(["ip", "-n", "x", "link", "set", "lo", "up"]),
            LabCommand(["echo", "it's a b"]),
            LabCommand(["nft", "-f", "-"], input: "table inet t {\n}\n"),
        ])
        #expect(script == """
            ip -n x link set lo up || { echo 'failed: ip -n x link set lo up' >&2; exit 1; }
            echo 'it'\\''s a b' || { echo 'failed: echo it'\\''s a b' >&2; exit 1; }
            nft -f - <<'FUSELAB_INPUT_EOF' || { echo 'failed: nft -f -' >&2; exit 1; }
            table inet t {
            }
            FUSELAB_INPUT_EOF

            """)
        #expect(shellQuote("") == "''")
        #expect(shellQuote("--net=/var/run/netns/fl-a1") == "--net=/var/run/netns/fl-a1")
    }

    @Test func downMatchesOnlyItsOwnPrefix() {
        var others = Lab.OtherLabs()
        others.prefixes = ["fl-x"]
        others.names = ["fl-a1", "fl-a-r"]  // another lab's exact names, e.g. from prefix "fl-"
        #expect(Lab.belongs("fl-master", prefix: "fl-", others: others))
        #expect(!Lab.belongs("fl-xmaster", prefix: "fl-", others: others))
        #expect(!Lab.belongs("fl-a1", prefix: "fl-", others: others))
        #expect(!Lab.belongs("smk-m", prefix: "fl-", others: others))
        #expect(!Lab.belongs("xfl-master", prefix: "fl-", others: others))
    }
}

@Suite struct SnapshotTextTests {
    @Test func linksKeepNamesAndFlagsButNotIndexesOrMACs() {
        let json = """
            [{"ifindex":7,"link_index":4,"ifname":"eth0","flags":["UP","BROADCAST","MULTICAST","LOWER_UP"],"mtu":1500,\
            "operstate":"UP","link_type":"ether","address":"be:ef:00:11:22:33","link_netnsid":0,\
            "linkinfo":{"info_kind":"veth"}},
             {"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"operstate":"UNKNOWN","link_type":"loopback"},
             {"ifindex":9,"ifname":"h-a1","flags":["UP"],"mtu":1500,"operstate":"UP","link_type":"ether","master":"lan0",
              "linkinfo":{"info_kind":"veth","info_slave_kind":"bridge"}}]
            """
        #expect(SnapshotText.links(fromJSON: json) == [
            "eth0 type=ether kind=veth mtu=1500 state=UP flags=BROADCAST,LOWER_UP,MULTICAST,UP",
            "h-a1 type=ether kind=veth port=bridge mtu=1500 state=UP flags=UP master=lan0",
            "lo type=loopback mtu=65536 state=UNKNOWN flags=LOOPBACK,LOWER_UP,UP",
        ])
    }

    @Test func addressesMaskLinkLocalAndDropLifetimes() {
        let json = """
            [{"ifindex":2,"ifname":"eth0","addr_info":[
              {"family":"inet","local":"10.10.0.10","prefixlen":24,"scope":"global","valid_life_time":4294967295},
              {"family":"inet6","local":"fe80::303c:3dff:fecf:2a6f","prefixlen":64,"scope":"link","valid_life_time":4294967295}]}]
            """
        #expect(SnapshotText.addresses(fromJSON: json) == [
            "eth0 inet 10.10.0.10/24 scope global",
            "eth0 inet6 fe80::LINKLOCAL/64 scope link",
        ])
    }

    @Test func routesAreSortedAndMasked() {
        let text = """
            local fe80::303c:3dff:fecf:2a6f dev eth0 table local proto kernel metric 0 pref medium
            default via 10.10.0.1 dev eth0
            fe80::/64 dev eth0 proto kernel metric 256 expires 299sec pref medium

            """
        #expect(SnapshotText.sortedLines(text) == [
            "default via 10.10.0.1 dev eth0",
            "fe80::/64 dev eth0 proto kernel metric 256 pref medium",
            "local fe80::LINKLOCAL dev eth0 table local proto kernel metric 0 pref medium",
        ])
    }

    @Test func rulesetKeepsOrderAndDropsCounters() {
        let text = "table inet f {\n\tchain c {\n\t\tudp dport 51820 counter packets 12 bytes 3400 accept\n\t}\n}\n"
        #expect(SnapshotText.ruleset(text) == ["table inet f {", "\tchain c {", "\t\tudp dport 51820 counter accept", "\t}", "}"])
    }
}
