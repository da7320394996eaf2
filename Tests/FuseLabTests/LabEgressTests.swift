import Foundation
import Testing
@testable import FuseLab

/// companyC, the domain whose router lets no UDP out, and the switch of what leaves a LAN.
@Suite struct LabEgressTests {
    @Test func theUDPBlockedDomainIsAddedOnlyWhenAsked() throws {
        #expect(try LabTopology.standard().domains.count == 3)
        let lab = try LabTopology.standard(prefix: "t3-", udpBlockedDomain: true)
        let companyC = try #require(lab.domain("companyC"))
        #expect(companyC.lan == "192.168.30.0/24" && companyC.routerWANAddress == "172.31.4.2" && companyC.egress == .noUDP)
        #expect(lab.federatedNodes.map(\.id) == ["master", "a1", "b1", "b2", "c1"])
        #expect(lab.node("c1")?.interface == "t3-c1")
        // The other domains are as in the standard lab.
        #expect(Array(lab.domains.prefix(3)) == (try LabTopology.standard(prefix: "t3-")).domains)
        // Its router's setup ends with the block.
        let router = try #require(lab.node("c-r"))
        let block = lab.setupCommands().last { $0.argv.contains("--net=\(LabAddressPlan.netnsRoot)/\(router.namespace)") && $0.input != nil }
        #expect(block?.input?.contains("meta l4proto udp drop") == true)
    }

    @Test func egressRulesetsReplaceTheTableAtomically() {
        #expect(renderEgressRuleset(.open, masterEndpoint: "172.31.1.2", apiPort: 7443) == """
            table inet fuselabegress {}
            delete table inet fuselabegress

            """)
        #expect(renderEgressRuleset(.noUDP, masterEndpoint: "172.31.1.2", apiPort: 7443) == """
            table inet fuselabegress {}
            delete table inet fuselabegress
            table inet fuselabegress {
            \tchain forward {
            \t\ttype filter hook forward priority filter - 10; policy accept;
            \t\tiifname "lan0" oifname "wan0" meta l4proto udp drop
            \t\tiifname "wan0" oifname "lan0" meta l4proto udp drop
            \t}
            }

            """)
        #expect(renderEgressRuleset(.apiOnly, masterEndpoint: "172.31.1.2", apiPort: 7443).contains("""
            \t\tiifname "lan0" oifname "wan0" ip daddr 172.31.1.2 tcp dport 7443 accept
            \t\tiifname "lan0" oifname "wan0" drop
            """))
    }
}
