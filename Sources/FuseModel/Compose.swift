import Yams

// MARK: - Public API

/// What `fuse deploy` may place services on.
public struct PlacementCatalogue: Sendable, Equatable {
    /// The federation's domains, spelled as stored, e.g. `["crisis", "companyA", "companyB"]`.
    public let domains: [String]
    /// The federation's nodes, spelled as stored, e.g. `["master", "a1", "b1"]`.
    public let nodes: [String]

    public init(domains: [String], nodes: [String]) {
        self.domains = domains
        self.nodes = nodes
    }
}

/// An image in the federation registry, with every part spelled out.
public struct ImageReference: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The registry host and port, e.g. `100.64.0.1:5000`.
    public let registry: String
    /// The repository path, e.g. `web` or `team/web`.
    public let repository: String
    /// The tag; `latest` when the compose file gave none.
    public let tag: String

    public init(registry: String, repository: String, tag: String) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
    }

    /// The full reference, e.g. `100.64.0.1:5000/web:latest`.
    public var description: String { "\(registry)/\(repository):\(tag)" }

    /// The reference pinned to a content digest: `100.64.0.1:5000/web:latest@sha256:…`.
    public func pinned(_ digest: String) -> String { "\(description)@\(digest)" }

    /// Whether `text` is a SHA-256 content digest as registries give it.
    public static func isDigest(_ text: String) -> Bool {
        text.wholeMatch(of: #/sha256:[0-9a-f]{64}/#) != nil
    }
}

/// A compose file that passed FUSE's rules, rewritten for `docker stack deploy`.
public struct PreparedStack: Sendable, Equatable {
    /// The rewritten compose document to feed `docker stack deploy -c`.
    public let yaml: String
    /// The service names, sorted.
    public let services: [String]
    /// The distinct images, sorted by description; the caller checks that each is in the registry.
    public let images: [ImageReference]

    public init(yaml: String, services: [String], images: [ImageReference]) {
        self.yaml = yaml
        self.services = services
        self.images = images
    }
}

/// Why a compose file or a stack name was refused: one line naming the service and the offending value.
public struct ComposeError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Validates and rewrites compose files (v3 syntax) for `fuse deploy`. Pure: no I/O.
public enum Compose {
    /// Checks a compose file against FUSE's rules and rewrites it for a Swarm spanning the federation:
    /// images pinned to the federation registry, ports in host mode, `dnsrr` endpoints, placement
    /// constraints checked against the catalogue, overlay networks sized for the WireGuard MTU.
    ///
    /// - Parameters:
    ///   - yaml: The operator's compose file.
    ///   - catalogue: The domains and nodes placement constraints may name.
    ///   - registry: The federation registry, e.g. `100.64.0.1:5000`.
    /// - Throws: `ComposeError` only.
    ///   - digests: Content digests by image; a service whose image has one is pinned to it
    ///     (`fuse deploy` reads them from the registry after a first pass).
    public static func prepare(yaml: String, catalogue: PlacementCatalogue, registry: String,
                               digests: [ImageReference: String] = [:]) throws -> PreparedStack {
        var root = try document(yaml)
        let version = try checkedVersion(root["version"])
        try checkVolumeDefinitions(root["volumes"])

        guard let servicesNode = root["services"] else {
            throw Subject.file.error("\"services\" is missing")
        }
        guard case .mapping(let services) = servicesNode, !services.isEmpty else {
            throw Subject.file.error("\"services\" must be a non-empty mapping of service names to definitions")
        }
        var networks = try mapping(root["networks"], "networks", Subject.file) ?? [:]
        var rewritten = Node.Mapping([])
        var names: [String] = []
        var images: Set<ImageReference> = []
        for (key, value) in services {
            let name = try serviceName(key)
            let subject = Subject.service(name)
            guard var definition = try mapping(value, "the definition", subject) else {
                throw subject.error("the definition must be a mapping")
            }
            try refuseHostAccess(definition, subject)
            images.insert(try rewriteImage(&definition, registry: registry, digests: digests, subject))
            try checkVolumes(definition["volumes"], subject)
            try rewritePorts(&definition, subject)
            try rewriteDeploy(&definition, catalogue: catalogue, subject)
            for network in try networkNames(definition["networks"], subject) where networks[network] == nil {
                guard network == defaultNetwork else {
                    throw subject.error("network \"\(network)\" is not defined under the top-level networks")
                }
                networks[network] = .mapping([:])
            }
            rewritten[string(name)] = .mapping(definition)
            names.append(name)
        }
        root["services"] = .mapping(rewritten)
        root["networks"] = .mapping(try rewriteNetworks(networks))
        root["version"] = nil

        let output = Node([(Node("version"), string(version, style: .doubleQuoted))] + root.map { ($0.key, $0.value) })
        return PreparedStack(
            yaml: try emit(output),
            services: names.sorted(),
            images: images.sorted { $0.description < $1.description }
        )
    }

    /// Stack names: 1–40 of `[a-z0-9_-]`, starting with a letter or digit (docker requires lower case).
    ///
    /// - Throws: `ComposeError` naming the refused name.
    public static func validateStackName(_ name: String) throws {
        guard name.wholeMatch(of: #/[a-z0-9][a-z0-9_-]{0,39}/#) != nil else {
            throw ComposeError("invalid stack name \"\(name)\": use 1-40 lower-case letters, digits, \"_\" or \"-\", starting with a letter or digit")
        }
    }
}

// MARK: - Document (rules 1, 2, 10)

extension Compose {
    /// Whom an error is about: the compose file, a service, a network or a volume.
    fileprivate struct Subject {
        let label: String
        static let file = Subject(label: "compose file")
        static func service(_ name: String) -> Subject { Subject(label: "service \"\(name)\"") }
        static func network(_ name: String) -> Subject { Subject(label: "network \"\(name)\"") }
        static func volume(_ name: String) -> Subject { Subject(label: "volume \"\(name)\"") }
        func error(_ message: String) -> ComposeError { ComposeError("\(label): \(message)") }
    }

    private static let topLevelKeys: Set<String> = ["version", "services", "networks", "volumes", "configs", "secrets"]

    /// Parses the file into a plain top-level mapping and checks its keys.
    private static func document(_ yaml: String) throws -> Node.Mapping {
        let parsed: Node?
        do {
            parsed = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw syntaxError(error)
        } catch {
            throw Subject.file.error("\(error)")
        }
        guard let parsed else { throw Subject.file.error("the document is empty") }
        guard case .mapping(let root) = plain(parsed) else {
            throw Subject.file.error("the top level must be a mapping with \"services\"")
        }
        for key in root.keys {
            guard let name = key.scalar?.string else {
                throw Subject.file.error("top-level key \(describe(key)) is not a string")
            }
            guard topLevelKeys.contains(name) || name.hasPrefix("x-") else {
                throw Subject.file.error("unknown top-level key \"\(name)\" (allowed: version, services, networks, volumes, configs, secrets, x-*)")
            }
        }
        return root
    }

    /// One line with the 1-based line number (Yams' marks already count from 1, like editors).
    private static func syntaxError(_ error: YamlError) -> ComposeError {
        let at = { (line: Int, problem: String) in ComposeError("compose file line \(line): \(problem)") }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            return at(mark.line, problem + (context.map { " (\($0.text) on line \($0.mark.line))" } ?? ""))
        case let .duplicatedKeysInMapping(duplicates, context):
            return at(context.mark.line, "duplicate key " + duplicates.map { "\"\($0)\"" }.joined(separator: ", "))
        case let .reader(problem, offset?, _, yaml):
            return at(yaml.prefix(offset).filter { $0 == "\n" }.count + 1, problem)
        default:
            return Subject.file.error(String(describing: error).prefix { $0 != "\n" }.description)
        }
    }

    /// The version as written ("3" or "3.N"), or "3.8", which docker 20.10 `stack deploy` needs when absent.
    private static func checkedVersion(_ node: Node?) throws -> String {
        guard let node else { return "3.8" }
        guard let version = node.scalar?.string, version.wholeMatch(of: #/3(\.[0-9]+)?/#) != nil else {
            throw Subject.file.error("version \"\(describe(node))\" is not supported; docker stack deploy needs \"3\" or \"3.x\"")
        }
        return version
    }

    /// Deterministic block-style YAML without line folding.
    private static func emit(_ node: Node) throws -> String {
        do {
            return try Yams.serialize(node: node, width: -1, allowUnicode: true)
        } catch {
            throw Subject.file.error("cannot write the rewritten file: \(error)")
        }
    }
}

// MARK: - Services (rules 3, 4)

extension Compose {
    private static let refusedKeys: [(key: String, why: String)] = [
        ("build", "images come from the federation registry: fuse image push / fuse image import"),
        ("privileged", "it would give the container control of the company's host"),
        ("cap_add", "extra capabilities would let the container reach into the company's host"),
        ("devices", "it would give the container the company's host devices"),
        ("network_mode", "services use the stack's overlay networks (use networks)"),
        ("pid", "it would share the host's process namespace"),
        ("ipc", "it would share the host's IPC namespace"),
        ("userns_mode", "it would turn off user-namespace isolation from the host"),
    ]

    private static func serviceName(_ key: Node) throws -> String {
        let name = key.scalar?.string ?? describe(key)
        guard name.count <= 63, name.wholeMatch(of: #/[a-zA-Z0-9][a-zA-Z0-9_.-]*/#) != nil else {
            throw Subject.service(name).error("invalid service name (letters, digits, \"_\", \".\" and \"-\", starting with a letter or digit, at most 63 characters)")
        }
        return name
    }

    private static func refuseHostAccess(_ definition: Node.Mapping, _ subject: Subject) throws {
        let present = Set(definition.keys.compactMap { $0.scalar?.string })
        let refused = refusedKeys.filter { present.contains($0.key) }
        guard refused.isEmpty else {
            throw subject.error(refused.map { "\"\($0.key)\" is not allowed: \($0.why)" }.joined(separator: "; "))
        }
    }

    /// Refuses bind mounts of host paths; named and anonymous volumes are fine.
    private static func checkVolumes(_ node: Node?, _ subject: Subject) throws {
        guard let node, node.tag != Tag(.null) else { return }
        guard case .sequence(let entries) = node else { throw subject.error("\"volumes\" must be a list") }
        for entry in entries {
            let isBind: Bool
            if let short = entry.scalar?.string {
                let source = short.contains(":") ? short.prefix { $0 != ":" } : ""
                isBind = ["/", ".", "~"].contains { source.hasPrefix($0) }
            } else {
                isBind = entry["type"]?.scalar?.string == "bind"
            }
            if isBind {
                throw subject.error("volume \"\(describe(entry))\" is a bind mount of a host path; it would expose the company's host file system (use a named volume)")
            }
        }
    }

    /// Top-level volumes that bind-mount a host directory through the local driver are bind mounts too.
    private static func checkVolumeDefinitions(_ node: Node?) throws {
        for (key, value) in try mapping(node, "volumes", Subject.file) ?? [:] {
            let subject = Subject.volume(key.scalar?.string ?? describe(key))
            guard let options = try mapping(value, "the definition", subject)?["driver_opts"],
                  let mountOptions = options["o"]?.scalar?.string.split(separator: ","),
                  mountOptions.contains("bind") || mountOptions.contains("rbind") else { continue }
            throw subject.error("driver_opts \"\(describe(options))\" bind-mount a host path; it would expose the company's host file system")
        }
    }
}

// MARK: - Images (rule 5)

extension Compose {
    /// Pins the service's image to the federation registry with an explicit tag (and its digest, when known).
    private static func rewriteImage(_ definition: inout Node.Mapping, registry: String, digests: [ImageReference: String],
                                     _ subject: Subject) throws -> ImageReference {
        guard let node = definition["image"] else {
            throw subject.error("\"image\" is missing; images come from the federation registry: fuse image push / fuse image import")
        }
        guard let text = node.scalar?.string, !text.isEmpty else {
            throw subject.error("image \"\(describe(node))\" must be a non-empty string")
        }
        let image = try imageReference(text, registry: registry, subject)
        definition["image"] = string(digests[image].map(image.pinned) ?? image.description)
        return image
    }

    /// An image name as `fuse image` takes it (`NAME[:TAG]`, optionally with the registry).
    public static func imageReference(_ text: String, registry: String) throws -> ImageReference {
        try imageReference(text, registry: registry, Subject(label: "bad image name"))
    }

    private static func imageReference(_ text: String, registry: String, _ subject: Subject) throws -> ImageReference {
        let invalid = { (why: String) in subject.error("image \"\(text)\" \(why)") }
        guard !text.contains("@") else { throw invalid("has a digest; digests are not supported, use a tag") }
        var components = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if components.count > 1, let host = components.first,
           host.contains(".") || host.contains(":") || host == "localhost" {
            guard host == registry else {
                throw invalid("is not from the federation registry \(registry); push it with fuse image push")
            }
            components.removeFirst()
        }
        var name = components.removeLast(), tag = "latest"
        if let colon = name.lastIndex(of: ":") {
            tag = String(name[colon...].dropFirst())
            name = String(name[..<colon])
        }
        components.append(name)
        for component in components where component.wholeMatch(of: #/[a-z0-9]+([._-][a-z0-9]+)*/#) == nil {
            throw invalid("is invalid: repository part \"\(component)\" must be lower-case letters and digits separated by \".\", \"_\" or \"-\"")
        }
        guard tag.wholeMatch(of: #/[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}/#) != nil else {
            throw invalid("has an invalid tag \"\(tag)\" (letters, digits, \"_\", \".\" and \"-\", at most 128)")
        }
        return ImageReference(registry: registry, repository: components.joined(separator: "/"), tag: tag)
    }
}

// MARK: - Ports (rule 7)

extension Compose {
    /// Rewrites every port to long syntax in host mode: a federation has no routing mesh.
    private static func rewritePorts(_ definition: inout Node.Mapping, _ subject: Subject) throws {
        guard let node = definition["ports"] else { return }
        guard case .sequence(let entries) = node else { throw subject.error("\"ports\" must be a list") }
        definition["ports"] = Node(try entries.map { try port($0, subject) })
    }

    private static func port(_ entry: Node, _ subject: Subject) throws -> Node {
        let invalid = { (why: String) in subject.error("port \"\(describe(entry))\": \(why)") }
        var target: String?, published: String?, proto = "tcp"
        if let short = entry.scalar?.string {
            let parts = short.split(separator: "/", maxSplits: 1).map(String.init)
            let ports = (parts.first ?? "").split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard ports.count <= 2 else { throw invalid("binding to a host address is not supported; use \"published:target\"") }
            (target, published) = (ports.last, ports.count == 2 ? ports[0] : nil)
            proto = parts.count == 2 ? parts[1] : proto
        } else if case .mapping(let long) = entry {
            for key in long.keys.compactMap({ $0.scalar?.string }) where !["target", "published", "protocol", "mode"].contains(key) {
                throw invalid("unknown key \"\(key)\" (target, published, protocol, mode)")
            }
            let mode = long["mode"]?.scalar?.string ?? "host"
            guard mode == "host" else {
                throw invalid(mode == "ingress"
                    ? "mode ingress is not supported (there is no routing mesh in a federation); use mode host"
                    : "mode \"\(mode)\" is not supported; use mode host")
            }
            (target, published) = (long["target"]?.scalar?.string, long["published"]?.scalar?.string)
            proto = long["protocol"]?.scalar?.string ?? proto
        } else {
            throw invalid("must be \"published:target[/protocol]\", a port number or a mapping")
        }
        func number(_ text: String?) throws -> Int {
            guard let text, !text.isEmpty else { throw invalid("a port number is missing") }
            guard !text.contains("-") else { throw invalid("port ranges are not supported; list each port") }
            guard let value = Int(text) else { throw invalid("\"\(text)\" is not a port number") }
            guard (1...65535).contains(value) else { throw invalid("\(value) is out of range 1-65535") }
            return value
        }
        let targetPort = try number(target)
        let publishedPort = try published.map(number)
        guard ["tcp", "udp"].contains(proto) else { throw invalid("protocol \"\(proto)\" is not supported (tcp or udp)") }
        return Node([(Node("target"), int(targetPort))]
            + (publishedPort.map { [(Node("published"), int($0))] } ?? [])
            + [(Node("protocol"), string(proto)), (Node("mode"), string("host"))])
    }
}

// MARK: - Deploy and placement (rules 6, 8)

extension Compose {
    /// The FUSE shorthand service keys and the node labels they constrain.
    private static let placementShorthands = [("x-fuse-domain", domainLabel), ("x-fuse-node", nodeLabel)]
    private static let domainLabel = "node.labels.fuse.domain"
    private static let nodeLabel = "node.labels.fuse.node"
    private static let fixedAttributes: Set<String> = ["node.id", "node.hostname", "node.role", "node.platform.os", "node.platform.arch"]
    private static let labelPrefixes = ["node.labels.", "engine.labels."]

    private static func rewriteDeploy(_ definition: inout Node.Mapping, catalogue: PlacementCatalogue, _ subject: Subject) throws {
        var deploy = try mapping(definition["deploy"], "deploy", subject) ?? [:]
        if let mode = deploy["endpoint_mode"] {
            guard let text = mode.scalar?.string, ["vip", "dnsrr"].contains(text) else {
                throw subject.error("deploy.endpoint_mode \"\(describe(mode))\" is not supported (vip or dnsrr)")
            }
        } else {
            deploy["endpoint_mode"] = string("dnsrr")
        }
        let shorthand = try removeShorthand(&definition, subject)
        if let placement = try rewritePlacement(deploy["placement"], adding: shorthand, catalogue, subject) {
            deploy["placement"] = .mapping(placement)
        }
        definition["deploy"] = .mapping(deploy)
    }

    /// Removes `x-fuse-domain` and `x-fuse-node` and returns the constraints they stand for.
    private static func removeShorthand(_ definition: inout Node.Mapping, _ subject: Subject) throws -> [String] {
        try placementShorthands.compactMap { key, label in
            guard let node = definition[key] else { return nil }
            guard let value = node.scalar?.string else {
                throw subject.error("\(key) \"\(describe(node))\" must be a string")
            }
            definition[key] = nil
            return "\(label) == \(value)"
        }
    }

    /// The placement with checked, normalised and distinct constraints; nil when there is none.
    private static func rewritePlacement(
        _ node: Node?, adding shorthand: [String], _ catalogue: PlacementCatalogue, _ subject: Subject
    ) throws -> Node.Mapping? {
        let placement = try mapping(node, "deploy.placement", subject)
        let given = placement?["constraints"]
        guard given != nil || !shorthand.isEmpty else { return placement }
        var constraints: [String] = []
        for text in try strings(given, "deploy.placement.constraints", subject) + shorthand {
            let checked = try constraint(text, catalogue, subject)
            if !constraints.contains(checked) { constraints.append(checked) }
        }
        var rewritten = placement ?? [:]
        rewritten["constraints"] = Node(constraints.map { string($0) })
        return rewritten
    }

    /// Checks one constraint and returns it as `LHS op RHS`, catalogue names in the catalogue's spelling.
    private static func constraint(_ text: String, _ catalogue: PlacementCatalogue, _ subject: Subject) throws -> String {
        let quoted = "placement constraint \"\(text)\""
        guard let match = text.wholeMatch(of: #/\s*([^\s=!]+)\s*(==|!=)\s*([^=!]*?)\s*/#), !match.3.isEmpty else {
            throw subject.error("malformed \(quoted) (expected \"attribute == value\" or \"attribute != value\")")
        }
        let (attribute, op) = (String(match.1), String(match.2))
        var value = String(match.3)
        guard fixedAttributes.contains(attribute)
            || labelPrefixes.contains(where: { attribute.hasPrefix($0) && attribute.count > $0.count }) else {
            throw subject.error("unsupported attribute \"\(attribute)\" in \(quoted) (node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.<key>, engine.labels.<key>)")
        }
        func known(_ names: [String], _ kind: String) throws -> String {
            guard let name = names.first(where: { $0.lowercased() == value.lowercased() }) else {
                let list = names.isEmpty ? "none" : names.sorted().joined(separator: ", ")
                throw subject.error("unknown \(kind) \"\(value)\" in \(quoted) (\(kind)s: \(list))")
            }
            return name
        }
        switch attribute {
        case "node.role": value = try known(["manager", "worker"], "role")
        case domainLabel: value = try known(catalogue.domains, "domain")
        case nodeLabel: value = try known(catalogue.nodes, "node")
        default: break
        }
        return "\(attribute) \(op) \(value)"
    }
}

// MARK: - Networks (rules 4, 9)

extension Compose {
    private static let defaultNetwork = "default"
    private static let mtuOption = "com.docker.network.driver.mtu"
    /// The WireGuard tunnel's MTU, which the overlay's VXLAN must fit in.
    private static let overlayMTU = "1420"
    private static let hostNetworkWhy = "it would put containers on the company host's network stack"

    /// The networks a service joins; none given means `default`.
    private static func networkNames(_ node: Node?, _ subject: Subject) throws -> [String] {
        let entries: [Node]
        switch node {
        case nil: entries = []
        case .sequence(let list)?: entries = Array(list)
        case .mapping(let map)?: entries = Array(map.keys)
        case let other?:
            guard other.tag == Tag(.null) else { throw subject.error("\"networks\" must be a list or a mapping") }
            entries = []
        }
        let names = try entries.map { entry in
            guard let name = entry.scalar?.string else { throw subject.error("network \"\(describe(entry))\" must be a name") }
            guard name != "host" else { throw subject.error("network \"host\" is not allowed: \(hostNetworkWhy)") }
            return name
        }
        return names.isEmpty ? [defaultNetwork] : names
    }

    /// Makes every network the stack creates an attachable overlay sized for the WireGuard MTU.
    private static func rewriteNetworks(_ networks: Node.Mapping) throws -> Node.Mapping {
        var rewritten = networks
        for index in rewritten.indices {
            let name = rewritten[index].key.scalar?.string ?? describe(rewritten[index].key)
            let subject = Subject.network(name)
            var network = try mapping(rewritten[index].value, "the definition", subject) ?? [:]
            let external = network["external"]
            let names = [name, network["name"]?.scalar?.string, external?["name"]?.scalar?.string]
            guard !names.contains("host") else { throw subject.error("the host network is not allowed: \(hostNetworkWhy)") }
            if external?.bool == true || external?.mapping != nil { continue }

            if let driver = network["driver"] {
                guard driver.scalar?.string == "overlay" else {
                    throw subject.error("driver \"\(describe(driver))\" is not supported; the stack runs on a Swarm overlay (use driver overlay)")
                }
            } else {
                network["driver"] = string("overlay")
            }
            if network["attachable"] == nil { network["attachable"] = Node("true", Tag(.bool)) }
            var options = try mapping(network["driver_opts"], "driver_opts", subject) ?? [:]
            if options[mtuOption] == nil { options[mtuOption] = string(overlayMTU, style: .doubleQuoted) }
            network["driver_opts"] = .mapping(options)
            rewritten[index].value = .mapping(network)
        }
        return rewritten
    }
}

// MARK: - Node helpers

extension Compose {
    /// The tree without anchors, with `<<` merge keys applied and collections in block style, so that
    /// the output is self-contained and reads back exactly as it was meant.
    private static func plain(_ node: Node) -> Node {
        if case .scalar(let scalar) = node {
            return node.tag == Tag(.str) ? string(scalar.string, style: scalar.style) : Node(scalar.string, scalar.tag, scalar.style)
        }
        if case .sequence(let sequence) = node { return Node(sequence.map(plain)) }
        guard case .mapping(let mapping) = node else { return node }
        // Keys written in the mapping win over merged ones; among merged mappings the first wins.
        let own = Set(mapping.keys.filter { $0.tag != Tag(.merge) }.map(plain))
        var result = Node.Mapping([])
        for (key, value) in mapping {
            guard key.tag == Tag(.merge) else {
                result[plain(key)] = plain(value)
                continue
            }
            for case .mapping(let source) in (value.sequence.map(Array.init) ?? [value]).map(plain) {
                for (inheritedKey, inheritedValue) in source where !own.contains(inheritedKey) && result[inheritedKey] == nil {
                    result[inheritedKey] = inheritedValue
                }
            }
        }
        return .mapping(result)
    }

    /// A string scalar, quoted when YAML would otherwise read it as a number, boolean or null.
    private static func string(_ value: String, style: Node.Scalar.Style = .any) -> Node {
        let needsQuotes = (style == .any || style == .plain) && Node(value).tag != Tag(.str)
        return Node(value, Tag(.str), needsQuotes ? .doubleQuoted : style)
    }

    private static func int(_ value: Int) -> Node { Node(String(value), Tag(.int)) }

    /// The mapping at `node`, nil when absent or null; anything else is an error about `key`.
    private static func mapping(_ node: Node?, _ key: String, _ subject: Subject) throws -> Node.Mapping? {
        guard let node, node.tag != Tag(.null) else { return nil }
        guard case .mapping(let mapping) = node else { throw subject.error("\(key) must be a mapping") }
        return mapping
    }

    /// The strings in the list at `node`, empty when absent or null.
    private static func strings(_ node: Node?, _ key: String, _ subject: Subject) throws -> [String] {
        guard let node, node.tag != Tag(.null) else { return [] }
        let notStrings = subject.error("\(key) must be a list of strings, not \(describe(node))")
        guard case .sequence(let list) = node else { throw notStrings }
        return try list.map { entry in
            guard let string = entry.scalar?.string else { throw notStrings }
            return string
        }
    }

    /// A node on one line, for error messages: scalars as written, collections in flow style.
    private static func describe(_ node: Node) -> String {
        if let scalar = node.scalar { return scalar.string }
        if let mapping = node.mapping {
            return "{" + mapping.map { "\(describe($0.key)): \(describe($0.value))" }.joined(separator: ", ") + "}"
        }
        return "[" + node.array().map(describe).joined(separator: ", ") + "]"
    }
}
