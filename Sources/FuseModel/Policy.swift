/// The federation's policy: which nodes may reach which nodes and exposures. Every rule allows;
/// the first rule that matches a flow decides; a flow that no rule matches is denied.
///
/// Selectors (names compare without case):
/// - sources (`from`): `*` (every node), `domain:NAME` (every node of that domain), `node:NAME`;
/// - destinations (`to`): `*` (every node and every exposure), `node:NAME` (the node's own
///   ports), `domain:NAME` (every node and every exposure of that domain), `exposure:NAME`,
///   `exposure:*` (every exposure).
///
/// Built in, always on and not part of any file: every node reaches the master's control plane
/// (TCP `apiPort`) and its DNS (UDP and TCP 53) at the master's address.
public struct Policy: Codable, Equatable, Sendable {
    public var rules: [PolicyRule]
    /// The line of each rule in the text it was parsed from (empty when built in code or
    /// decoded). Not encoded and not compared.
    public internal(set) var lines: [Int] = []

    public init(rules: [PolicyRule]) {
        self.rules = rules
    }

    private enum CodingKeys: String, CodingKey { case rules }

    public static func == (lhs: Policy, rhs: Policy) -> Bool { lhs.rules == rhs.rules }

    /// Label of the decision of rule `index` (0-based).
    public func label(ofRule index: Int) -> String {
        if let name = rules[index].name { return name }
        if index < lines.count { return "rule \(index + 1) (line \(lines[index]))" }
        return "rule \(index + 1)"
    }

    public static let builtInLabel = "built-in: control plane"
    public static let workloadLabel = "built-in: workloads (Swarm)"
    public static let denyLabel = "default: deny"
    public static let sameNodeLabel = "same node"
    public static let defaultRuleName = "default: the master's domain reaches every exposure"

    /// The policy in force until someone sets one: the master's domain reaches every exposure.
    public static func defaultPolicy(masterDomain: String) -> Policy {
        Policy(rules: [PolicyRule(name: defaultRuleName, from: ["domain:" + masterDomain], to: ["exposure:*"])])
    }
}

public struct PolicyRule: Codable, Equatable, Sendable {
    public var name: String?
    public var from: [String]
    public var to: [String]
    /// nil = any of tcp, udp and icmp.
    public var proto: FlowProtocol?
    /// nil = any port. A rule with ports never matches ICMP. For an exposure the port that
    /// counts is the exposure's own port (at the node's VPN address).
    public var ports: [UInt16]?

    public init(name: String? = nil, from: [String], to: [String], proto: FlowProtocol? = nil, ports: [UInt16]? = nil) {
        self.name = name
        self.from = from
        self.to = to
        self.proto = proto
        self.ports = ports
    }
}

/// A policy error, naming the line (and the rule) to fix when known.
public struct PolicyError: Error, Equatable, CustomStringConvertible, Sendable {
    public let line: Int?
    /// 1-based.
    public let rule: Int?
    public let message: String

    public init(line: Int?, rule: Int?, message: String) {
        self.line = line
        self.rule = rule
        self.message = message
    }

    public var description: String {
        switch (line, rule) {
        case let (line?, rule?): "policy line \(line) (rule \(rule)): \(message)"
        case let (nil, rule?): "policy rule \(rule): \(message)"
        case let (line?, nil): "policy line \(line): \(message)"
        case (nil, nil): "policy: \(message)"
        }
    }
}

/// What a policy's names must refer to.
public struct PolicyCatalogue: Sendable {
    public var nodes: [NodeRecord]
    public var exposures: [Exposure]
    /// Lower-cased; always includes the domains of `nodes` and `exposures`.
    public var domains: Set<String>

    /// `domains`: further known domains (e.g. of join tokens); those of the nodes and exposures
    /// are added.
    public init(nodes: [NodeRecord], exposures: [Exposure], domains: Set<String> = []) {
        self.nodes = nodes
        self.exposures = exposures
        self.domains = Set(domains.map { $0.lowercased() } + nodes.map { $0.domain.lowercased() } + exposures.map { $0.domain.lowercased() })
    }
}

public enum PolicyDestination: Sendable, Equatable {
    case node(NodeRecord)
    case exposure(Exposure)
}

public struct PolicyContext: Sendable, Equatable {
    public let master: NodeRecord
    public let apiPort: UInt16

    public init(master: NodeRecord, apiPort: UInt16) {
        self.master = master
        self.apiPort = apiPort
    }
}

public struct PolicyDecision: Codable, Equatable, Sendable {
    public let allowed: Bool
    /// The rule that decided: its name, `rule N (line L)`, "built-in: control plane",
    /// "same node" or "default: deny".
    public let rule: String

    public init(allowed: Bool, rule: String) {
        self.allowed = allowed
        self.rule = rule
    }
}

// MARK: - Selectors

enum SourceSelector: Equatable, Hashable {
    case any
    case domain(String)
    case node(String)

    func matches(_ node: NodeRecord) -> Bool {
        switch self {
        case .any: true
        case .domain(let name): node.domain.lowercased() == name
        case .node(let name): node.name.lowercased() == name
        }
    }
}

enum DestinationSelector: Equatable, Hashable {
    case any
    case allExposures
    case domain(String)
    case node(String)
    case exposure(String)

    func matches(_ destination: PolicyDestination) -> Bool {
        switch (self, destination) {
        case (.any, _): true
        case (.allExposures, .exposure): true
        case (.domain(let name), .node(let node)): node.domain.lowercased() == name
        case (.domain(let name), .exposure(let exposure)): exposure.domain.lowercased() == name
        case (.node(let name), .node(let node)): node.name.lowercased() == name
        case (.exposure(let name), .exposure(let exposure)): exposure.name.lowercased() == name
        default: false
        }
    }
}

enum Selector {
    static let sourceHint = "use *, domain:NAME, node:NAME"
    static let destinationHint = "use *, domain:NAME, node:NAME, exposure:NAME, exposure:*"

    /// nil for text that is no selector at all; throws (a message) for a bad name.
    static func split(_ text: String) -> (kind: String, name: String)? {
        if text == "*" { return ("*", "*") }
        guard let colon = text.firstIndex(of: ":") else { return nil }
        return (text[..<colon].lowercased(), String(text[text.index(after: colon)...]))
    }

    static func checkedName(_ name: String, kind: String, in text: String) throws(PolicyError) -> String {
        do {
            return try NameRule.label(name, kind: kind).lowercased()
        } catch {
            throw PolicyError(line: nil, rule: nil, message: "bad \(kind) name in \"\(text)\": use 1-63 letters, digits or '-', not starting or ending with '-'")
        }
    }

    static func source(_ text: String) throws(PolicyError) -> SourceSelector {
        switch split(text) {
        case ("*", _)?: return .any
        case ("domain", let name)?: return .domain(try checkedName(name, kind: "domain", in: text))
        case ("node", let name)?: return .node(try checkedName(name, kind: "node", in: text))
        case ("exposure", _)?:
            throw PolicyError(line: nil, rule: nil, message: "\"\(text)\" cannot be a source: an exposure receives traffic; \(sourceHint)")
        default:
            throw PolicyError(line: nil, rule: nil, message: "unknown selector \"\(text)\"; \(sourceHint)")
        }
    }

    static func destination(_ text: String) throws(PolicyError) -> DestinationSelector {
        switch split(text) {
        case ("*", _)?: return .any
        case ("domain", let name)?: return .domain(try checkedName(name, kind: "domain", in: text))
        case ("node", let name)?: return .node(try checkedName(name, kind: "node", in: text))
        case ("exposure", "*")?: return .allExposures
        case ("exposure", let name)?: return .exposure(try checkedName(name, kind: "exposure", in: text))
        default:
            throw PolicyError(line: nil, rule: nil, message: "unknown selector \"\(text)\"; \(destinationHint)")
        }
    }
}

/// A rule with its selectors parsed; a selector that does not parse matches nothing.
struct CompiledRule {
    let from: [SourceSelector]
    let to: [DestinationSelector]
    let proto: FlowProtocol?
    let ports: Set<UInt16>?

    init(_ rule: PolicyRule) {
        from = rule.from.compactMap { try? Selector.source($0) }
        to = rule.to.compactMap { try? Selector.destination($0) }
        proto = rule.proto
        ports = rule.ports.map(Set.init)
    }

    func allows(source: NodeRecord, destination: PolicyDestination, proto: FlowProtocol, port: UInt16?) -> Bool {
        guard self.proto == nil || self.proto == proto else { return false }
        if let ports {
            guard proto != .icmp, let port, ports.contains(port) else { return false }
        }
        return from.contains { $0.matches(source) } && to.contains { $0.matches(destination) }
    }

    /// Whether this rule's `to` selects `node` itself as a destination.
    func selects(_ node: NodeRecord) -> Bool {
        to.contains { $0.matches(.node(node)) }
    }

    /// The (proto, port) pairs this rule allows into a node; port nil = any port.
    var nodeFlows: [FlowKey] {
        let protos = proto.map { [$0] } ?? FlowProtocol.allCases
        return protos.flatMap { proto -> [FlowKey] in
            guard let ports else { return [FlowKey(proto: proto, port: nil)] }
            return proto == .icmp ? [] : ports.sorted().map { FlowKey(proto: proto, port: $0) }
        }
    }
}

struct FlowKey: Hashable, Comparable {
    let proto: FlowProtocol
    let port: UInt16?

    static func < (lhs: FlowKey, rhs: FlowKey) -> Bool {
        let left = FlowProtocol.allCases.firstIndex(of: lhs.proto)!, right = FlowProtocol.allCases.firstIndex(of: rhs.proto)!
        if left != right { return left < right }
        return (lhs.port.map { Int($0) } ?? -1) < (rhs.port.map { Int($0) } ?? -1)
    }
}

// MARK: - Parsing and validation

extension Policy {
    /// Parses the JSON policy file and checks everything that needs no knowledge of the
    /// federation (selectors, ports, duplicates). Errors name the line of the offending rule.
    public static func parse(_ text: String) throws(PolicyError) -> Policy {
        let document: LinedJSON
        do {
            document = try LinedJSON.parse(text)
        } catch {
            throw PolicyError(line: error.line, rule: nil, message: "not valid JSON: \(error.message)")
        }
        guard case .object(let members) = document.value else {
            throw PolicyError(line: document.line, rule: nil, message: "expected an object with \"rules\", found \(document.kind)")
        }
        var rulesValue: LinedJSON?
        for member in members {
            switch member.key {
            case "rules": rulesValue = member.value
            case "comment": break
            default: throw PolicyError(line: member.line, rule: nil, message: "unknown key \"\(member.key)\"; expected \"rules\" (and optionally \"comment\")")
            }
        }
        guard let rulesValue else { throw PolicyError(line: document.line, rule: nil, message: "missing \"rules\": a list of rules") }
        guard case .array(let elements) = rulesValue.value else {
            throw PolicyError(line: rulesValue.line, rule: nil, message: "\"rules\" must be a list of rules, found \(rulesValue.kind)")
        }
        var policy = Policy(rules: [])
        for (index, element) in elements.enumerated() {
            func fail(_ message: String) -> PolicyError { PolicyError(line: element.line, rule: index + 1, message: message) }
            guard case .object(let fields) = element.value else { throw fail("a rule must be an object, found \(element.kind)") }
            var rule = PolicyRule(from: [], to: [])
            var seen: Set<String> = []
            for field in fields {
                seen.insert(field.key)
                switch field.key {
                case "name":
                    guard case .string(let name) = field.value.value else { throw fail("\"name\" must be a string, found \(field.value.kind)") }
                    rule.name = name
                case "from", "to":
                    guard case .array(let items) = field.value.value else {
                        throw fail("\"\(field.key)\" must be a list of selectors, found \(field.value.kind)")
                    }
                    var selectors: [String] = []
                    for item in items {
                        guard case .string(let selector) = item.value else {
                            throw fail("\"\(field.key)\" must be a list of selectors (strings), found \(item.kind)")
                        }
                        selectors.append(selector)
                    }
                    if field.key == "from" { rule.from = selectors } else { rule.to = selectors }
                case "proto":
                    guard case .string(let text) = field.value.value, let proto = FlowProtocol(rawValue: text.lowercased()) else {
                        throw fail("\"proto\" must be \"tcp\", \"udp\" or \"icmp\" (leave it out for any)")
                    }
                    rule.proto = proto
                case "ports":
                    guard case .array(let items) = field.value.value else { throw fail("\"ports\" must be a list of port numbers, found \(field.value.kind)") }
                    var ports: [UInt16] = []
                    for item in items {
                        guard case .number(let text) = item.value, let number = Int(text), (0...65535).contains(number) else {
                            let shown: String = if case .number(let text) = item.value { text } else { item.kind }
                            throw fail("bad port \(shown): use 1-65535")
                        }
                        ports.append(UInt16(number))
                    }
                    rule.ports = ports
                case "comment":
                    break
                default:
                    throw fail("unknown key \"\(field.key)\"; a rule has name, from, to, proto, ports (and optionally comment)")
                }
            }
            for required in ["from", "to"] where !seen.contains(required) {
                throw fail("missing \"\(required)\"")
            }
            policy.rules.append(rule)
            policy.lines.append(element.line)
        }
        try policy.checkStructure()
        return policy
    }

    private func error(rule index: Int, _ message: String) -> PolicyError {
        PolicyError(line: index < lines.count ? lines[index] : nil, rule: index + 1, message: message)
    }

    private func place(_ index: Int) -> String {
        index < lines.count ? "rule \(index + 1), line \(lines[index])" : "rule \(index + 1)"
    }

    /// Checks that need no knowledge of the federation.
    func checkStructure() throws(PolicyError) {
        var names: [String: Int] = [:]
        var earlier: [(from: Set<SourceSelector>, to: Set<DestinationSelector>, proto: FlowProtocol?, ports: Set<UInt16>?)] = []
        for (index, rule) in rules.enumerated() {
            func fail(_ message: String) -> PolicyError { error(rule: index, message) }
            if let name = rule.name {
                guard !name.allSatisfy(\.isWhitespace) else { throw fail("\"name\" is empty: leave it out or give the rule a name") }
                if let other = names[name.lowercased()] { throw fail("duplicate rule name \"\(name)\" (also \(place(other)))") }
                names[name.lowercased()] = index
            }
            guard !rule.from.isEmpty else { throw fail("\"from\" is empty: list at least one source (\(Selector.sourceHint))") }
            guard !rule.to.isEmpty else { throw fail("\"to\" is empty: list at least one destination (\(Selector.destinationHint))") }
            var sources: [SourceSelector] = []
            for text in rule.from {
                let selector: SourceSelector
                do { selector = try Selector.source(text) } catch { throw fail(error.message) }
                if sources.contains(selector) { throw fail("\"from\" lists \"\(text)\" twice") }
                sources.append(selector)
            }
            if sources.count > 1 && sources.contains(.any) { throw fail("\"from\" has \"*\", which already covers every node: remove the other sources") }
            var destinations: [DestinationSelector] = []
            for text in rule.to {
                let selector: DestinationSelector
                do { selector = try Selector.destination(text) } catch { throw fail(error.message) }
                if destinations.contains(selector) { throw fail("\"to\" lists \"\(text)\" twice") }
                destinations.append(selector)
            }
            if destinations.count > 1 && destinations.contains(.any) {
                throw fail("\"to\" has \"*\", which already covers every node and exposure: remove the other destinations")
            }
            if destinations.contains(.allExposures), destinations.contains(where: { if case .exposure = $0 { true } else { false } }) {
                throw fail("\"to\" has \"exposure:*\", which already covers every exposure: remove the named exposures")
            }
            if let ports = rule.ports {
                guard !ports.isEmpty else { throw fail("\"ports\" is empty: leave it out to allow any port") }
                if ports.contains(0) { throw fail("bad port 0: use 1-65535") }
                if rule.proto == .icmp { throw fail("ICMP has no ports: leave out \"ports\" or use proto tcp or udp") }
                var seenPorts: Set<UInt16> = []
                for port in ports where !seenPorts.insert(port).inserted { throw fail("\"ports\" lists \(port) twice") }
            }
            let shape = (from: Set(sources), to: Set(destinations), proto: rule.proto, ports: rule.ports.map(Set.init))
            if let other = earlier.firstIndex(where: { $0.from == shape.from && $0.to == shape.to && $0.proto == shape.proto && $0.ports == shape.ports }) {
                throw fail("same sources, destinations, proto and ports as \(place(other)): remove one")
            }
            earlier.append(shape)
        }
    }

    /// Checks the policy against the federation: every name must be known, and a rule must not
    /// name an exposure it can never match (other proto, or ports without the exposure's port).
    public func validate(catalogue: PolicyCatalogue) throws(PolicyError) {
        try checkStructure()
        let nodeNames = Set(catalogue.nodes.map { $0.name.lowercased() })
        let exposures = Dictionary(catalogue.exposures.map { ($0.name.lowercased(), $0) }, uniquingKeysWith: { first, _ in first })
        func known(_ names: some Sequence<String>) -> String {
            let sorted = names.sorted()
            if sorted.isEmpty { return "none" }
            return sorted.count > 12 ? sorted.prefix(12).joined(separator: ", ") + ", ..." : sorted.joined(separator: ", ")
        }
        for (index, rule) in rules.enumerated() {
            func fail(_ message: String) -> PolicyError { error(rule: index, message) }
            for text in rule.from {
                switch try? Selector.source(text) {
                case .domain(let name)? where !catalogue.domains.contains(name):
                    throw fail("unknown domain \"\(name)\" in \"\(text)\" (known: \(known(catalogue.domains)))")
                case .node(let name)? where !nodeNames.contains(name):
                    throw fail("unknown node \"\(name)\" in \"\(text)\" (known: \(known(nodeNames)))")
                default: break
                }
            }
            for text in rule.to {
                switch try? Selector.destination(text) {
                case .domain(let name)? where !catalogue.domains.contains(name):
                    throw fail("unknown domain \"\(name)\" in \"\(text)\" (known: \(known(catalogue.domains)))")
                case .node(let name)? where !nodeNames.contains(name):
                    throw fail("unknown node \"\(name)\" in \"\(text)\" (known: \(known(nodeNames)))")
                case .exposure(let name)?:
                    guard let exposure = exposures[name] else {
                        throw fail("unknown exposure \"\(name)\" in \"\(text)\" (known: \(known(exposures.keys)))")
                    }
                    if let proto = rule.proto, proto != exposure.proto {
                        throw fail("exposure \"\(exposure.name)\" is \(exposure.proto.rawValue) \(exposure.port), but this rule allows only \(proto.rawValue)")
                    }
                    if let ports = rule.ports, !ports.contains(exposure.port) {
                        throw fail("exposure \"\(exposure.name)\" is \(exposure.proto.rawValue) \(exposure.port), which this rule's ports \(ports.map(String.init).joined(separator: ", ")) do not include")
                    }
                default: break
                }
            }
        }
    }
}

// MARK: - Decisions

extension Policy {
    /// Whether `source` may send `proto` to `port` at `destination`, and which rule decided.
    /// For an exposure, `port` nil means the exposure's own port; for ICMP it is ignored.
    public func decide(source: NodeRecord, destination: PolicyDestination, proto: FlowProtocol, port: UInt16?, context: PolicyContext) -> PolicyDecision {
        let port = proto == .icmp ? nil : port
        switch destination {
        case .node(let node):
            if node.name.lowercased() == source.name.lowercased() { return PolicyDecision(allowed: true, rule: Self.sameNodeLabel) }
            if let port, let builtIn = Self.builtInFlows(from: source, to: node, context: context).first(where: { $0.flow == FlowKey(proto: proto, port: port) }) {
                return PolicyDecision(allowed: true, rule: builtIn.label)
            }
        case .exposure(let exposure):
            if exposure.node.lowercased() == source.name.lowercased() { return PolicyDecision(allowed: true, rule: Self.sameNodeLabel) }
            guard proto == exposure.proto, port == nil || port == exposure.port else {
                return PolicyDecision(allowed: false, rule: Self.denyLabel)
            }
        }
        let effectivePort: UInt16? = if case .exposure(let exposure) = destination { exposure.port } else { port }
        if let index = matchingRule(source: source, destination: destination, proto: proto, port: effectivePort) {
            return PolicyDecision(allowed: true, rule: label(ofRule: index))
        }
        return PolicyDecision(allowed: false, rule: Self.denyLabel)
    }

    func matchingRule(source: NodeRecord, destination: PolicyDestination, proto: FlowProtocol, port: UInt16?) -> Int? {
        rules.indices.first { CompiledRule(rules[$0]).allows(source: source, destination: destination, proto: proto, port: port) }
    }

    /// The flows from `source` to `destination` that no rule can deny, each with the label of
    /// its decision: every node reaches the master's control plane and DNS; nodes that run
    /// workloads reach each other's Swarm ports (and the master's manager and registry).
    static func builtInFlows(from source: NodeRecord, to destination: NodeRecord, context: PolicyContext) -> [(flow: FlowKey, label: String)] {
        let toMaster = destination.name.lowercased() == context.master.name.lowercased()
        var flows: [(flow: FlowKey, label: String)] = []
        if toMaster { flows += controlPlaneFlows(apiPort: context.apiPort).map { ($0, builtInLabel) } }
        if source.runsWorkloads, destination.runsWorkloads { flows += workloadFlows(toMaster: toMaster).map { ($0, workloadLabel) } }
        return flows
    }

    /// The control plane and DNS at the master's address.
    static func controlPlaneFlows(apiPort: UInt16) -> [FlowKey] {
        [FlowKey(proto: .tcp, port: 53), FlowKey(proto: .tcp, port: apiPort), FlowKey(proto: .udp, port: 53)]
    }

    /// Docker Swarm between nodes that run workloads: gossip and the overlay's data path
    /// everywhere; the manager API and the image registry at the master.
    static func workloadFlows(toMaster: Bool) -> [FlowKey] {
        var flows = [FlowKey(proto: .tcp, port: SwarmPorts.gossip), FlowKey(proto: .udp, port: SwarmPorts.gossip),
                     FlowKey(proto: .udp, port: SwarmPorts.dataPath)]
        if toMaster { flows += [FlowKey(proto: .tcp, port: SwarmPorts.manager), FlowKey(proto: .tcp, port: SwarmPorts.registry)] }
        return flows.sorted()
    }
}
