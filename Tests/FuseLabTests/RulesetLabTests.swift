import Foundation
import FuseModel
import FuseSystem
import Testing

extension LabTests {
    /// The node's table in a real nft, in a namespace of the test's own: the whole table loads,
    /// and a change applied by set element or by chain leaves exactly the table that the new
    /// firewall renders. Root only.
    @Suite("Ruleset lab", .serialized)
    struct RulesetLabTests {
        static let cidr = try! IPv4CIDR(parsing: "100.64.0.0/16")
        static let hub = IPv4Address("100.64.0.1")!

        /// The hub's firewall for `count` field nodes that `ops` may reach on tcp/`port` (none:
        /// 0), with `exposures` of the hub's own that ops and the first field node may reach.
        static func firewall(field count: Int, port: UInt16 = 22, exposures: Int = 0) -> NodeFirewall {
            let ops = IPv4Address("100.64.0.2")!
            let field = (0..<count).map { IPv4Address(UInt32(0x6440_0010) + UInt32($0)) }
            let everyone = [ops] + field
            let exposed = (0..<exposures).map {
                ExposureRule(exposure: Exposure(name: "svc\($0)", node: "hub", domain: "crisis", proto: .tcp, port: 9000 + UInt16($0),
                                                target: IPv4Address("192.168.77.10")!, targetPort: 80), sources: Array(everyone.prefix(2)))
            }
            return NodeFirewall(inbound: [AllowedFlow(sources: everyone, proto: .tcp, port: 7443), AllowedFlow(sources: everyone, proto: .udp, port: 53)],
                                exposures: exposed,
                                forward: port == 0 ? [] : [ForwardFlow(destinations: field, flow: AllowedFlow(sources: [ops], proto: .tcp, port: port))])
        }

        /// A namespace of the test's own with the nft inside it; removed in every outcome.
        struct Scratch: ~Copyable {
            let runner = HostCommandRunner()
            let namespace = "t" + String(UInt32.random(in: 0..<0xFFFF), radix: 16) + "-nft"
            var nft: [String] { ["ip", "netns", "exec", namespace, "nft"] }

            init() throws { try runner.check(["ip", "netns", "add", namespace]) }
            deinit { _ = runner.succeeds(["ip", "netns", "delete", namespace]) }

            func load(_ script: String) throws { try runner.check(nft + ["-f", "-"], input: script) }

            func listed() throws -> [String] { LabFixture.words(of: try runner.check(nft + ["list", "table", "inet", "fuse_fuse0"])) }
        }

        static func render(_ count: Int, port: UInt16 = 22, exposures: Int = 0) -> RenderedRuleset {
            NodeRuleset.render(interface: "fuse0", cidr: cidr, address: hub, firewall: firewall(field: count, port: port, exposures: exposures), isHub: true)
        }

        /// Exposures that come and go, a rule that changes and one that goes, each with a join
        /// or a leave in the same step: each change, applied to the last table, leaves what
        /// loading the new one whole leaves — and writes the 300 addresses again only into a
        /// set that is new (the rule that comes back in the last step).
        @Test func ruleAndExposureChangesLeaveTheTableThatLoadingItWholeGives() throws {
            let lab = try Scratch()
            let steps = [Self.render(300), Self.render(301, exposures: 1), Self.render(301, exposures: 3), Self.render(302, port: 2222, exposures: 3),
                         Self.render(300, port: 2222), Self.render(300, port: 0, exposures: 2), Self.render(301)]
            try lab.load(steps[0].text)
            for (before, after) in zip(steps, steps.dropFirst()) {
                let change = try #require(after.changes(from: before))
                // An address is written again only into a set that comes with the change.
                let probe = IPv4Address("100.64.0.200")!, kept = Set(before.sets.map(\.name))
                if !after.sets.contains(where: { !kept.contains($0.name) && $0.elements.contains(probe) }) {
                    #expect(!change.contains(probe.description), "an address both tables have is not written again")
                }
                try lab.load(change)
                let applied = try lab.listed()
                try lab.load(after.text)
                #expect(try lab.listed() == applied)
            }
        }

        @Test func aJoinChangesTheHubsTableByElement() throws {
            let lab = try Scratch()
            let before = Self.render(300), after = Self.render(301), left = Self.render(299)
            try lab.load(before.text)
            let join = try #require(after.changes(from: before))
            #expect(join == "add element inet fuse_fuse0 in0 { 100.64.1.60 }\nadd element inet fuse_fuse0 in1 { 100.64.1.60 }\n"
                        + "add element inet fuse_fuse0 forward0_to { 100.64.1.60 }\n")
            try lab.load(join)
            // The same table as loading the new one whole: compare what nft lists.
            let applied = try lab.listed()
            try lab.load(after.text)
            #expect(try lab.listed() == applied)
            // And back: a leave deletes elements.
            try lab.load(try #require(left.changes(from: after)))
            let shrunk = try lab.listed()
            try lab.load(left.text)
            #expect(try lab.listed() == shrunk)
            #expect(!shrunk.contains("100.64.1.59") && shrunk.contains("100.64.1.58"))
        }
    }
}
