import Foundation
import FuseModel
import FuseSystem
import Testing

extension LabTests {
    /// The node's table in a real nft, in a namespace of the test's own: the whole table loads,
    /// and a join's change applied by set element leaves exactly the table that the new
    /// firewall renders. Root only.
    @Suite("Ruleset lab", .serialized)
    struct RulesetLabTests {
        static let cidr = try! IPv4CIDR(parsing: "100.64.0.0/16")
        static let hub = IPv4Address("100.64.0.1")!

        /// The hub's firewall for `count` field nodes that `ops` may reach on tcp/22.
        static func firewall(field count: Int) -> NodeFirewall {
            let ops = IPv4Address("100.64.0.2")!
            let field = (0..<count).map { IPv4Address(UInt32(0x6440_0010) + UInt32($0)) }
            let everyone = [ops] + field
            return NodeFirewall(inbound: [AllowedFlow(sources: everyone, proto: .tcp, port: 7443), AllowedFlow(sources: everyone, proto: .udp, port: 53)],
                                forward: [ForwardFlow(destinations: field, flow: AllowedFlow(sources: [ops], proto: .tcp, port: 22))])
        }

        @Test func aJoinChangesTheHubsTableByElement() throws {
            let runner = HostCommandRunner()
            let namespace = "t" + String(UInt32.random(in: 0..<0xFFFF), radix: 16) + "-nft"
            try runner.check(["ip", "netns", "add", namespace])
            defer { _ = runner.succeeds(["ip", "netns", "delete", namespace]) }
            let nft = ["ip", "netns", "exec", namespace, "nft"]
            // What nft lists, as words in order: a set's elements may be listed in any order.
            func listed() throws -> [String] {
                try runner.check(nft + ["list", "table", "inet", "fuse_fuse0"]).split(whereSeparator: { $0.isWhitespace || $0 == "," }).map(String.init).sorted()
            }
            func render(_ count: Int) -> RenderedRuleset {
                NodeRuleset.render(interface: "fuse0", cidr: Self.cidr, address: Self.hub, firewall: Self.firewall(field: count), isHub: true)
            }
            let before = render(300), after = render(301), left = render(299)
            try runner.check(nft + ["-f", "-"], input: before.text)
            let join = try #require(after.changes(from: before))
            #expect(join == "add element inet fuse_fuse0 in0 { 100.64.1.60 }\nadd element inet fuse_fuse0 in1 { 100.64.1.60 }\n"
                        + "add element inet fuse_fuse0 forward0_to { 100.64.1.60 }\n")
            try runner.check(nft + ["-f", "-"], input: join)
            // The same table as loading the new one whole: compare what nft lists.
            let applied = try listed()
            try runner.check(nft + ["-f", "-"], input: after.text)
            #expect(try listed() == applied)
            // And back: a leave deletes elements.
            try runner.check(nft + ["-f", "-"], input: try #require(left.changes(from: after)))
            let shrunk = try listed()
            try runner.check(nft + ["-f", "-"], input: left.text)
            #expect(try listed() == shrunk)
            #expect(!shrunk.contains("100.64.1.59") && shrunk.contains("100.64.1.58"))
        }
    }
}
