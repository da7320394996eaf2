import FuseModel
import Testing

@Suite struct NodeRulesetTests {
    @Test func hub() {
        #expect(NodeRuleset.render(interface: "fuse0", isHub: true) == """
            table inet fuse_fuse0
            delete table inet fuse_fuse0
            table inet fuse_fuse0 {
              chain forward {
                type filter hook forward priority filter; policy accept;
                iifname "fuse0" oifname "fuse0" accept
                iifname "fuse0" drop
                oifname "fuse0" drop
              }
            }

            """)
    }

    @Test func worker() {
        #expect(NodeRuleset.render(interface: "fl-a1", isHub: false) == """
            table inet fuse_fl_a1
            delete table inet fuse_fl_a1
            table inet fuse_fl_a1 {
              chain forward {
                type filter hook forward priority filter; policy accept;
                iifname "fl-a1" drop
                oifname "fl-a1" drop
              }
            }

            """)
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
