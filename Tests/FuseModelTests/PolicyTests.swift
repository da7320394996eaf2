import Foundation
import FuseModel
import Testing

/// The paper's Fig. 2: crisis {master}, companyA {a1 exposing a camera}, companyB {b1, b2
/// exposing a data store}. The operator's laptop `op` is not a node.
enum Fig2 {
    static func address(_ text: String) -> IPv4Address { IPv4Address(text)! }
    static let cidr = try! IPv4CIDR(parsing: "100.64.0.0/16")
    static let master = NodeRecord(name: "master", domain: "crisis", address: address("100.64.0.1"), publicKey: key(0x01), isMaster: true)
    static let a1 = NodeRecord(name: "a1", domain: "companyA", address: address("100.64.0.2"), publicKey: key(0x02), isMaster: false)
    static let b1 = NodeRecord(name: "b1", domain: "companyB", address: address("100.64.0.3"), publicKey: key(0x03), isMaster: false)
    static let b2 = NodeRecord(name: "b2", domain: "companyB", address: address("100.64.0.4"), publicKey: key(0x04), isMaster: false)
    static let nodes = [b2, a1, master, b1] // out of order on purpose
    static let camera = Exposure(name: "camera", node: "a1", domain: "companyA", proto: .tcp, port: 8554, target: address("192.168.10.11"), targetPort: 554)
    static let store = Exposure(name: "store", node: "b2", domain: "companyB", proto: .tcp, port: 5432, target: address("192.168.20.12"), targetPort: 5432)
    static let exposures = [store, camera]
    static let context = PolicyContext(master: master, apiPort: 7443)
    static let catalogue = PolicyCatalogue(nodes: nodes, exposures: exposures, domains: ["spare"])

    static let customText = """
        {
          "comment": "Fig. 2 of the paper",
          "rules": [
            {
              "name": "companyB watches the camera",
              "from": ["domain:companyB"],
              "to": ["exposure:camera"],
              "proto": "tcp",
              "ports": [8554]
            },
            { "from": ["*"], "to": ["*"], "proto": "icmp" },
            { "from": ["node:a1"], "to": ["node:B2"], "proto": "tcp", "ports": [22, 80] },
            { "from": ["domain:companyB"], "to": ["domain:companyB"], "comment": "inside companyB" },
            { "name": "crisis sees everything exposed", "from": ["domain:crisis"], "to": ["exposure:*"] }
          ]
        }
        """
}

@Suite struct PolicyParseTests {
    @Test func parsesTheExampleWithLines() throws {
        let policy = try Policy.parse(Fig2.customText)
        #expect(policy.rules == [
            PolicyRule(name: "companyB watches the camera", from: ["domain:companyB"], to: ["exposure:camera"], proto: .tcp, ports: [8554]),
            PolicyRule(from: ["*"], to: ["*"], proto: .icmp),
            PolicyRule(from: ["node:a1"], to: ["node:B2"], proto: .tcp, ports: [22, 80]),
            PolicyRule(from: ["domain:companyB"], to: ["domain:companyB"]),
            PolicyRule(name: "crisis sees everything exposed", from: ["domain:crisis"], to: ["exposure:*"]),
        ])
        #expect(policy.lines == [4, 11, 12, 13, 14])
        #expect(policy.label(ofRule: 0) == "companyB watches the camera")
        #expect(policy.label(ofRule: 1) == "rule 2 (line 11)")
        #expect(Policy(rules: policy.rules).label(ofRule: 1) == "rule 2", "no lines when built in code")
        try policy.validate(catalogue: Fig2.catalogue)
    }

    @Test func linesIgnoreBracesInStringsAndEscapes() throws {
        let text = "{\"comment\": \"{ [ \\\" ]\\n\",\n\"rules\": [\n\n  {\"name\": \"x\\\"{\", \"from\": [\"*\"],\n\"to\": [\"*\"]}, {\"from\": [\"*\"], \"to\": [\"node:a1\"], \"proto\": \"tcp\"}]}"
        let policy = try Policy.parse(text)
        #expect(policy.lines == [4, 5])
        #expect(policy.rules[0].name == "x\"{")
    }

    @Test func emptyRulesAndUnicodeEscapes() throws {
        #expect(try Policy.parse("{\"rules\": []}").rules.isEmpty)
        #expect(try Policy.parse("{\"rules\": [{\"name\": \"caf\\u00e9 \\ud83d\\ude00\", \"from\": [\"*\"], \"to\": [\"*\"]}]}").rules[0].name == "café 😀")
    }

    @Test func codableRoundTripIsTheFileFormat() throws {
        let policy = try Policy.parse(Fig2.customText)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(Policy(rules: [PolicyRule(from: ["*"], to: ["node:a1"], proto: .udp, ports: [53])]))
        #expect(String(decoding: data, as: UTF8.self) == #"{"rules":[{"from":["*"],"ports":[53],"proto":"udp","to":["node:a1"]}]}"#)
        let decoded = try JSONDecoder().decode(Policy.self, from: encoder.encode(policy))
        #expect(decoded == policy)
        #expect(try Policy.parse(String(decoding: encoder.encode(policy), as: UTF8.self)) == policy)
    }

    @Test func malformedJSONNamesTheLine() {
        expectThrowing(PolicyError.self, "policy line 3: not valid JSON: expected ',' or '}' after a value in an object, found '\"'") {
            try Policy.parse("{\n  \"rules\": []\n  \"x\": 1\n}")
        }
        expectThrowing(PolicyError.self, "policy line 2: not valid JSON: expected a key in double quotes, found ']'") {
            try Policy.parse("{\"rules\": [\n {\"from\": [\"*\"],}]}".replacingOccurrences(of: ",}", with: ", ]"))
        }
        expectThrowing(PolicyError.self, "policy line 1: not valid JSON: a string is not closed before the end of the line") {
            try Policy.parse("{\"rules\n\": []}")
        }
        expectThrowing(PolicyError.self, "policy line 1: not valid JSON: expected a value, found the end of the text") { try Policy.parse("") }
        expectThrowing(PolicyError.self, "policy line 2: not valid JSON: unexpected text after the end of the document") { try Policy.parse("{\"rules\": []}\n{}") }
        expectThrowing(PolicyError.self, "policy line 2: not valid JSON: key \"rules\" appears twice in one object") { try Policy.parse("{\"rules\": [],\n\"rules\": []}") }
    }

    @Test func shapeErrors() {
        expectThrowing(PolicyError.self, "policy line 1: expected an object with \"rules\", found a list") { try Policy.parse("[]") }
        expectThrowing(PolicyError.self, "policy line 1: missing \"rules\": a list of rules") { try Policy.parse("{}") }
        expectThrowing(PolicyError.self, "policy line 2: unknown key \"rule\"; expected \"rules\" (and optionally \"comment\")") {
            try Policy.parse("{\n\"rule\": []}")
        }
        expectThrowing(PolicyError.self, "policy line 1: \"rules\" must be a list of rules, found an object") { try Policy.parse("{\"rules\": {}}") }
        expectThrowing(PolicyError.self, "policy line 2 (rule 1): a rule must be an object, found a string") { try Policy.parse("{\"rules\": [\n\"x\"]}") }
        expectThrowing(PolicyError.self, "policy line 3 (rule 2): missing \"to\"") {
            try Policy.parse("{\"rules\": [\n{\"from\": [\"*\"], \"to\": [\"*\"]},\n{\"from\": [\"*\"]}]}")
        }
        expectThrowing(PolicyError.self, "policy line 2 (rule 1): unknown key \"port\"; a rule has name, from, to, proto, ports (and optionally comment)") {
            try Policy.parse("{\"rules\": [\n{\"from\": [\"*\"], \"to\": [\"*\"], \"port\": [1]}]}")
        }
        expectThrowing(PolicyError.self, "policy line 2 (rule 1): \"proto\" must be \"tcp\", \"udp\" or \"icmp\" (leave it out for any)") {
            try Policy.parse("{\"rules\": [\n{\"from\": [\"*\"], \"to\": [\"*\"], \"proto\": \"sctp\"}]}")
        }
        expectThrowing(PolicyError.self, "policy line 2 (rule 1): bad port 70000: use 1-65535") {
            try Policy.parse("{\"rules\": [\n{\"from\": [\"*\"], \"to\": [\"*\"], \"ports\": [70000]}]}")
        }
        expectThrowing(PolicyError.self, "policy line 2 (rule 1): bad port 22.5: use 1-65535") {
            try Policy.parse("{\"rules\": [\n{\"from\": [\"*\"], \"to\": [\"*\"], \"ports\": [22.5]}]}")
        }
        expectThrowing(PolicyError.self, "policy line 2 (rule 1): bad port a string: use 1-65535") {
            try Policy.parse("{\"rules\": [\n{\"from\": [\"*\"], \"to\": [\"*\"], \"ports\": [\"22\"]}]}")
        }
        expectThrowing(PolicyError.self, "policy line 2 (rule 1): \"from\" must be a list of selectors, found a string") {
            try Policy.parse("{\"rules\": [\n{\"from\": \"*\", \"to\": [\"*\"]}]}")
        }
        expectThrowing(PolicyError.self, "policy line 2 (rule 1): \"name\" must be a string, found a number") {
            try Policy.parse("{\"rules\": [\n{\"name\": 1, \"from\": [\"*\"], \"to\": [\"*\"]}]}")
        }
    }

    /// A policy whose rule 2 starts on line 7, the rule under test.
    func withSecondRule(_ rule: String) -> String {
        """
        {
          "rules": [
            {
              "name": "first",
              "from": ["*"], "to": ["node:master"], "proto": "tcp", "ports": [22]
            },
            \(rule)
          ]
        }
        """
    }

    @Test func ruleErrorsNameTheLine() {
        let cases: [(String, String)] = [
            (#"{"from": ["dom:x"], "to": ["*"]}"#, #"unknown selector "dom:x"; use *, domain:NAME, node:NAME"#),
            (#"{"from": ["*"], "to": ["host:x"]}"#, #"unknown selector "host:x"; use *, domain:NAME, node:NAME, exposure:NAME, exposure:*"#),
            (#"{"from": ["*"], "to": ["nodes"]}"#, #"unknown selector "nodes"; use *, domain:NAME, node:NAME, exposure:NAME, exposure:*"#),
            (#"{"from": ["exposure:camera"], "to": ["*"]}"#, #""exposure:camera" cannot be a source: an exposure receives traffic; use *, domain:NAME, node:NAME"#),
            (#"{"from": ["node:a_b"], "to": ["*"]}"#, #"bad node name in "node:a_b": use 1-63 letters, digits or '-', not starting or ending with '-'"#),
            (#"{"from": [], "to": ["*"]}"#, #""from" is empty: list at least one source (use *, domain:NAME, node:NAME)"#),
            (#"{"from": ["*"], "to": []}"#, #""to" is empty: list at least one destination (use *, domain:NAME, node:NAME, exposure:NAME, exposure:*)"#),
            (#"{"from": ["*"], "to": ["*"], "ports": [0]}"#, "bad port 0: use 1-65535"),
            (#"{"from": ["*"], "to": ["*"], "ports": []}"#, #""ports" is empty: leave it out to allow any port"#),
            (#"{"from": ["*"], "to": ["*"], "ports": [22, 23, 22]}"#, #""ports" lists 22 twice"#),
            (#"{"from": ["*"], "to": ["*"], "proto": "icmp", "ports": [1]}"#, #"ICMP has no ports: leave out "ports" or use proto tcp or udp"#),
            (#"{"from": ["domain:companyB", "domain:COMPANYb"], "to": ["*"]}"#, #""from" lists "domain:COMPANYb" twice"#),
            (#"{"from": ["*"], "to": ["node:a1", "node:a1"]}"#, #""to" lists "node:a1" twice"#),
            (#"{"from": ["*", "node:a1"], "to": ["*"]}"#, #""from" has "*", which already covers every node: remove the other sources"#),
            (#"{"from": ["*"], "to": ["node:a1", "*"]}"#, #""to" has "*", which already covers every node and exposure: remove the other destinations"#),
            (#"{"from": ["*"], "to": ["exposure:camera", "exposure:*"]}"#, #""to" has "exposure:*", which already covers every exposure: remove the named exposures"#),
            (#"{"name": "FIRST", "from": ["*"], "to": ["*"]}"#, #"duplicate rule name "FIRST" (also rule 1, line 3)"#),
            (#"{"name": " ", "from": ["*"], "to": ["*"]}"#, #""name" is empty: leave it out or give the rule a name"#),
            (#"{"from": ["*"], "to": ["NODE:Master"], "ports": [22], "proto": "tcp"}"#, "same sources, destinations, proto and ports as rule 1, line 3: remove one"),
        ]
        for (rule, message) in cases {
            expectThrowing(PolicyError.self, "policy line 7 (rule 2): " + message) { try Policy.parse(withSecondRule(rule)) }
        }
    }

    @Test func catalogueErrorsNameTheLine() throws {
        let cases: [(String, String)] = [
            (#"{"from": ["node:x"], "to": ["*"]}"#, #"unknown node "x" in "node:x" (known: a1, b1, b2, master)"#),
            (#"{"from": ["*"], "to": ["node:op"]}"#, #"unknown node "op" in "node:op" (known: a1, b1, b2, master)"#),
            (#"{"from": ["domain:companyC"], "to": ["*"]}"#, #"unknown domain "companyc" in "domain:companyC" (known: companya, companyb, crisis, spare)"#),
            (#"{"from": ["*"], "to": ["domain:x"]}"#, #"unknown domain "x" in "domain:x" (known: companya, companyb, crisis, spare)"#),
            (#"{"from": ["*"], "to": ["exposure:cam"]}"#, #"unknown exposure "cam" in "exposure:cam" (known: camera, store)"#),
            (#"{"from": ["*"], "to": ["exposure:camera"], "proto": "tcp", "ports": [554]}"#, #"exposure "camera" is tcp 8554, which this rule's ports 554 do not include"#),
            (#"{"from": ["*"], "to": ["exposure:Camera"], "proto": "udp"}"#, #"exposure "camera" is tcp 8554, but this rule allows only udp"#),
        ]
        for (rule, message) in cases {
            let policy = try Policy.parse(withSecondRule(rule))
            expectThrowing(PolicyError.self, "policy line 7 (rule 2): " + message) { try policy.validate(catalogue: Fig2.catalogue) }
        }
        // Built in code: no lines, the rule number still.
        let policy = Policy(rules: [PolicyRule(from: ["node:x"], to: ["*"])])
        expectThrowing(PolicyError.self, #"policy rule 1: unknown node "x" in "node:x" (known: a1, b1, b2, master)"#) { try policy.validate(catalogue: Fig2.catalogue) }
        expectThrowing(PolicyError.self, #"policy rule 1: "to" is empty: list at least one destination (use *, domain:NAME, node:NAME, exposure:NAME, exposure:*)"#) {
            try Policy(rules: [PolicyRule(from: ["*"], to: [])]).validate(catalogue: Fig2.catalogue)
        }
        // A spare domain (of a token) is known although no node is in it yet.
        try Policy.parse(withSecondRule(#"{"from": ["domain:spare"], "to": ["*"]}"#)).validate(catalogue: Fig2.catalogue)
        try Policy.defaultPolicy(masterDomain: "crisis").validate(catalogue: Fig2.catalogue)
    }
}

@Suite struct PolicyDecisionTests {
    let defaults = Policy.defaultPolicy(masterDomain: "crisis")

    func decide(_ policy: Policy, _ source: NodeRecord, _ destination: PolicyDestination, _ proto: FlowProtocol, _ port: UInt16?) -> PolicyDecision {
        policy.decide(source: source, destination: destination, proto: proto, port: port, context: Fig2.context)
    }

    @Test func defaultPolicy() {
        #expect(defaults.rules == [PolicyRule(name: "default: the master's domain reaches every exposure", from: ["domain:crisis"], to: ["exposure:*"])])
        let byDefault = PolicyDecision(allowed: true, rule: "default: the master's domain reaches every exposure")
        let deny = PolicyDecision(allowed: false, rule: "default: deny")
        let builtIn = PolicyDecision(allowed: true, rule: "built-in: control plane")
        #expect(decide(defaults, Fig2.master, .exposure(Fig2.camera), .tcp, 8554) == byDefault)
        #expect(decide(defaults, Fig2.master, .exposure(Fig2.camera), .tcp, nil) == byDefault)
        #expect(decide(defaults, Fig2.master, .exposure(Fig2.store), .tcp, 5432) == byDefault)
        #expect(decide(defaults, Fig2.master, .exposure(Fig2.camera), .tcp, 8555) == deny, "not the exposure's port")
        #expect(decide(defaults, Fig2.master, .exposure(Fig2.camera), .udp, 8554) == deny)
        #expect(decide(defaults, Fig2.b1, .exposure(Fig2.camera), .tcp, 8554) == deny)
        #expect(decide(defaults, Fig2.b1, .exposure(Fig2.store), .tcp, 5432) == deny, "same domain, still denied")
        #expect(decide(defaults, Fig2.a1, .node(Fig2.master), .tcp, 7443) == builtIn)
        #expect(decide(defaults, Fig2.a1, .node(Fig2.master), .udp, 53) == builtIn)
        #expect(decide(defaults, Fig2.b2, .node(Fig2.master), .tcp, 53) == builtIn)
        #expect(decide(defaults, Fig2.a1, .node(Fig2.master), .udp, 7443) == deny)
        #expect(decide(defaults, Fig2.a1, .node(Fig2.master), .tcp, 22) == deny)
        #expect(decide(defaults, Fig2.a1, .node(Fig2.master), .icmp, nil) == deny)
        #expect(decide(defaults, Fig2.a1, .node(Fig2.b1), .tcp, 7443) == deny, "the control plane is only at the master")
        #expect(decide(defaults, Fig2.b1, .node(Fig2.a1), .icmp, nil) == deny)
        #expect(decide(defaults, Fig2.master, .node(Fig2.a1), .tcp, 22) == deny, "the master's domain reaches exposures, not nodes")
        #expect(decide(defaults, Fig2.a1, .node(Fig2.a1), .tcp, 22) == PolicyDecision(allowed: true, rule: "same node"))
        #expect(decide(defaults, Fig2.a1, .exposure(Fig2.camera), .tcp, 8554) == PolicyDecision(allowed: true, rule: "same node"))
    }

    @Test func customPolicy() throws {
        let policy = try Policy.parse(Fig2.customText)
        let watches = PolicyDecision(allowed: true, rule: "companyB watches the camera")
        let deny = PolicyDecision(allowed: false, rule: "default: deny")
        #expect(decide(policy, Fig2.b1, .exposure(Fig2.camera), .tcp, 8554) == watches)
        #expect(decide(policy, Fig2.b2, .exposure(Fig2.camera), .tcp, nil) == watches)
        #expect(decide(policy, Fig2.b1, .exposure(Fig2.camera), .tcp, 8555) == deny)
        #expect(decide(policy, Fig2.b1, .exposure(Fig2.camera), .udp, 8554) == deny)
        #expect(decide(policy, Fig2.b1, .node(Fig2.a1), .tcp, 8554) == deny, "the exposure, not the node")
        #expect(decide(policy, Fig2.master, .exposure(Fig2.camera), .tcp, 8554) == PolicyDecision(allowed: true, rule: "crisis sees everything exposed"))
        #expect(decide(policy, Fig2.b1, .node(Fig2.a1), .icmp, nil) == PolicyDecision(allowed: true, rule: "rule 2 (line 11)"))
        #expect(decide(policy, Fig2.b1, .node(Fig2.a1), .icmp, 99) == PolicyDecision(allowed: true, rule: "rule 2 (line 11)"), "ICMP has no port")
        #expect(decide(policy, Fig2.a1, .node(Fig2.b2), .tcp, 22) == PolicyDecision(allowed: true, rule: "rule 3 (line 12)"))
        #expect(decide(policy, Fig2.a1, .node(Fig2.b2), .tcp, 23) == deny)
        #expect(decide(policy, Fig2.a1, .node(Fig2.b2), .udp, 22) == deny)
        #expect(decide(policy, Fig2.a1, .node(Fig2.b2), .tcp, nil) == deny, "a rule with ports does not allow every port")
        #expect(decide(policy, Fig2.b1, .node(Fig2.b2), .udp, 9999) == PolicyDecision(allowed: true, rule: "rule 4 (line 13)"))
        #expect(decide(policy, Fig2.b1, .node(Fig2.b2), .tcp, nil) == PolicyDecision(allowed: true, rule: "rule 4 (line 13)"))
        #expect(decide(policy, Fig2.b1, .node(Fig2.b2), .icmp, nil) == PolicyDecision(allowed: true, rule: "rule 2 (line 11)"), "the first match decides")
        #expect(decide(policy, Fig2.b1, .exposure(Fig2.store), .tcp, 5432) == PolicyDecision(allowed: true, rule: "rule 4 (line 13)"))
        #expect(decide(policy, Fig2.a1, .exposure(Fig2.store), .tcp, 5432) == deny)
        #expect(decide(policy, Fig2.b1, .node(Fig2.master), .tcp, 7443) == PolicyDecision(allowed: true, rule: "built-in: control plane"))
    }

    @Test func protoNilWithPortsMeansTCPAndUDP() {
        let policy = Policy(rules: [PolicyRule(from: ["node:A1"], to: ["Node:b1"], ports: [53])])
        #expect(decide(policy, Fig2.a1, .node(Fig2.b1), .udp, 53) == PolicyDecision(allowed: true, rule: "rule 1"))
        #expect(decide(policy, Fig2.a1, .node(Fig2.b1), .tcp, 53) == PolicyDecision(allowed: true, rule: "rule 1"))
        #expect(decide(policy, Fig2.a1, .node(Fig2.b1), .icmp, nil) == PolicyDecision(allowed: false, rule: "default: deny"))
    }
}

@Suite struct PolicyFirewallTests {
    func addresses(_ nodes: NodeRecord...) -> [IPv4Address] { nodes.map(\.address) }

    func firewall(_ policy: Policy, _ node: NodeRecord) -> NodeFirewall {
        policy.firewall(for: node, nodes: Fig2.nodes, exposures: Fig2.exposures, context: Fig2.context)
    }

    @Test func defaultPolicy() {
        let policy = Policy.defaultPolicy(masterDomain: "crisis")
        #expect(firewall(policy, Fig2.a1) == NodeFirewall(exposures: [ExposureRule(exposure: Fig2.camera, sources: addresses(Fig2.master))]))
        #expect(firewall(policy, Fig2.b1) == NodeFirewall())
        #expect(firewall(policy, Fig2.b2) == NodeFirewall(exposures: [ExposureRule(exposure: Fig2.store, sources: addresses(Fig2.master))]))
        let others = addresses(Fig2.a1, Fig2.b1, Fig2.b2)
        #expect(firewall(policy, Fig2.master) == NodeFirewall(inbound: [
            AllowedFlow(sources: others, proto: .tcp, port: 53),
            AllowedFlow(sources: others, proto: .tcp, port: 7443),
            AllowedFlow(sources: others, proto: .udp, port: 53),
        ]))
    }

    @Test func exposuresWithoutSourcesAreListed() {
        let policy = Policy(rules: [])
        #expect(firewall(policy, Fig2.a1) == NodeFirewall(exposures: [ExposureRule(exposure: Fig2.camera, sources: [])]))
    }

    @Test func customPolicy() throws {
        let policy = try Policy.parse(Fig2.customText)
        #expect(firewall(policy, Fig2.a1) == NodeFirewall(
            inbound: [AllowedFlow(sources: addresses(Fig2.master, Fig2.b1, Fig2.b2), proto: .icmp, port: nil)],
            exposures: [ExposureRule(exposure: Fig2.camera, sources: addresses(Fig2.master, Fig2.b1, Fig2.b2))]))
        #expect(firewall(policy, Fig2.b2) == NodeFirewall(
            inbound: [
                AllowedFlow(sources: addresses(Fig2.b1), proto: .tcp, port: nil),
                AllowedFlow(sources: addresses(Fig2.a1), proto: .tcp, port: 22),
                AllowedFlow(sources: addresses(Fig2.a1), proto: .tcp, port: 80),
                AllowedFlow(sources: addresses(Fig2.b1), proto: .udp, port: nil),
                AllowedFlow(sources: addresses(Fig2.master, Fig2.a1, Fig2.b1), proto: .icmp, port: nil),
            ],
            exposures: [ExposureRule(exposure: Fig2.store, sources: addresses(Fig2.master, Fig2.b1))]))
        let others = addresses(Fig2.a1, Fig2.b1, Fig2.b2)
        #expect(firewall(policy, Fig2.master) == NodeFirewall(
            inbound: [
                AllowedFlow(sources: others, proto: .tcp, port: 53),
                AllowedFlow(sources: others, proto: .tcp, port: 7443),
                AllowedFlow(sources: others, proto: .udp, port: 53),
                AllowedFlow(sources: others, proto: .icmp, port: nil),
            ],
            // By group, as the hub's table enforces them: per rule and flow, then per exposure.
            forward: [
                ForwardFlow(destinations: addresses(Fig2.a1, Fig2.b1, Fig2.b2), flow: AllowedFlow(sources: addresses(Fig2.a1, Fig2.b1, Fig2.b2), proto: .icmp, port: nil)),
                ForwardFlow(destinations: addresses(Fig2.b2), flow: AllowedFlow(sources: addresses(Fig2.a1), proto: .tcp, port: 22)),
                ForwardFlow(destinations: addresses(Fig2.b2), flow: AllowedFlow(sources: addresses(Fig2.a1), proto: .tcp, port: 80)),
                ForwardFlow(destinations: addresses(Fig2.b1, Fig2.b2), flow: AllowedFlow(sources: addresses(Fig2.b1, Fig2.b2), proto: .tcp, port: nil)),
                ForwardFlow(destinations: addresses(Fig2.b1, Fig2.b2), flow: AllowedFlow(sources: addresses(Fig2.b1, Fig2.b2), proto: .udp, port: nil)),
                ForwardFlow(destinations: addresses(Fig2.b1, Fig2.b2), flow: AllowedFlow(sources: addresses(Fig2.b1, Fig2.b2), proto: .icmp, port: nil)),
                // The exposures: who may reach each, to its node (the master is never a source).
                ForwardFlow(destinations: addresses(Fig2.a1), flow: AllowedFlow(sources: addresses(Fig2.b1, Fig2.b2), proto: .tcp, port: 8554)),
                ForwardFlow(destinations: addresses(Fig2.b2), flow: AllowedFlow(sources: addresses(Fig2.b1), proto: .tcp, port: 5432)),
            ]))
    }

    @Test func deterministic() throws {
        let policy = try Policy.parse(Fig2.customText)
        for node in Fig2.nodes {
            let reference = firewall(policy, node)
            for nodes in [Fig2.nodes.reversed(), Fig2.nodes.shuffled(), Fig2.nodes.sorted { $0.name < $1.name }] {
                #expect(policy.firewall(for: node, nodes: nodes, exposures: Fig2.exposures.reversed(), context: Fig2.context) == reference)
            }
        }
    }

    @Test func firewallAgreesWithDecide() throws {
        let policy = try Policy.parse(Fig2.customText)
        let master = firewall(policy, Fig2.master)
        for destination in Fig2.nodes where !destination.isMaster {
            for source in Fig2.nodes where !source.isMaster && source != destination {
                for (proto, port) in [(FlowProtocol.tcp, UInt16(22)), (.tcp, 80), (.tcp, 9), (.udp, 53), (.icmp, nil), (.tcp, 8554), (.tcp, 5432)] {
                    let forwarded = master.forward.contains { $0.allows(source: source.address, destination: destination.address, proto: proto, port: port) }
                    let exposure = Fig2.exposures.first { $0.node == destination.name && $0.port == port && $0.proto == proto }
                    let allowed = policy.decide(source: source, destination: .node(destination), proto: proto, port: port, context: Fig2.context).allowed
                        || exposure.map { policy.decide(source: source, destination: .exposure($0), proto: proto, port: port, context: Fig2.context).allowed } ?? false
                    #expect(forwarded == allowed, "\(source.name) → \(destination.name) \(proto) \(String(describing: port))")
                }
            }
        }
    }
}
