import Testing
import Yams
import FuseModel

private let registry = "100.64.0.1:5000"
private let catalogue = PlacementCatalogue(domains: ["crisis", "companyA", "companyB"], nodes: ["master", "a1", "b1"])

private func prepare(_ yaml: String) throws -> PreparedStack {
    try Compose.prepare(yaml: yaml, catalogue: catalogue, registry: registry)
}

/// The message `prepare` fails with, or nil when it succeeds.
private func failure(_ yaml: String) -> String? {
    do {
        _ = try prepare(yaml)
        return nil
    } catch let error as ComposeError {
        return error.message
    } catch {
        return "not a ComposeError: \(error)"
    }
}

/// A file with one service "web" whose definition is `image: web` followed by `lines`.
private func web(_ lines: String...) -> String { web(lines) }

private func web(_ lines: [String]) -> String {
    (["services:", "  web:", "    image: web"] + lines.map { "    " + $0 }).joined(separator: "\n") + "\n"
}

/// The node at `path` in the prepared output.
private func output(_ yaml: String, _ path: String...) throws -> Node? {
    var node = try Yams.compose(yaml: try prepare(yaml).yaml)
    for key in path { node = node?[key] }
    return node
}

/// A YAML fragment as a node, to compare with output nodes.
private func node(_ yaml: String) throws -> Node {
    try #require(try Yams.compose(yaml: yaml))
}

// MARK: - Full example

private let fullExample = """
    # The operator's file.
    x-defaults: &defaults
      restart: unless-stopped
      environment:
        MODE: "yes"
    services:
      web:
        <<: *defaults
        image: team/web:2
        ports:
          - "8080:80"
          - 9090:90/udp
          - 443
          - target: 53
            published: 5353
            protocol: udp
        x-fuse-domain: COMPANYA
        deploy:
          replicas: 2
          placement:
            constraints: ["node.role==manager", "node.labels.fuse.node != B1"]
        command: ["sh", "-c", "echo hello; sleep 100000000000000000000000000000000000000000000000000000000000000000"]
      db:
        image: 100.64.0.1:5000/postgres:16
        volumes:
          - data:/var/lib/postgresql/data
        networks: [backend]
        deploy:
          endpoint_mode: vip
    networks:
      backend:
        driver_opts:
          encrypted: "true"
    volumes:
      data:
    version: 3.8

    """

private let fullExampleOutput = """
    version: "3.8"
    x-defaults:
      restart: unless-stopped
      environment:
        MODE: "yes"
    services:
      web:
        restart: unless-stopped
        environment:
          MODE: "yes"
        image: 100.64.0.1:5000/team/web:2
        ports:
        - target: 80
          published: 8080
          protocol: tcp
          mode: host
        - target: 90
          published: 9090
          protocol: udp
          mode: host
        - target: 443
          protocol: tcp
          mode: host
        - target: 53
          published: 5353
          protocol: udp
          mode: host
        deploy:
          replicas: 2
          placement:
            constraints:
            - node.role == manager
            - node.labels.fuse.node != b1
            - node.labels.fuse.domain == companyA
          endpoint_mode: dnsrr
        command:
        - "sh"
        - "-c"
        - "echo hello; sleep 100000000000000000000000000000000000000000000000000000000000000000"
      db:
        image: 100.64.0.1:5000/postgres:16
        volumes:
        - data:/var/lib/postgresql/data
        networks:
        - backend
        deploy:
          endpoint_mode: vip
    networks:
      backend:
        driver_opts:
          encrypted: "true"
          com.docker.network.driver.mtu: "1420"
        driver: overlay
        attachable: true
      default:
        driver: overlay
        attachable: true
        driver_opts:
          com.docker.network.driver.mtu: "1420"
    volumes:
      data:

    """

@Test func fullExampleIsRewrittenExactly() throws {
    let stack = try prepare(fullExample)
    #expect(stack.yaml == fullExampleOutput)
    #expect(stack.services == ["db", "web"])
    #expect(stack.images == [
        ImageReference(registry: registry, repository: "postgres", tag: "16"),
        ImageReference(registry: registry, repository: "team/web", tag: "2"),
    ])
}

@Test(arguments: [
    fullExample,
    web(),
    web("x-fuse-node: A1", "ports: [\"80:80\", 81]", "networks: {default: {aliases: [www]}}"),
    "version: '3'\nservices:\n  a: {image: a, networks: [n]}\n  b: {image: b}\nnetworks: {n: {external: true}}\n",
])
func preparingTheOutputAgainChangesNothing(yaml: String) throws {
    let once = try prepare(yaml)
    let twice = try prepare(once.yaml)
    #expect(twice == once)
}

@Test func distinctImagesAreSortedByDescription() throws {
    let stack = try prepare("""
        services:
          z: {image: web}
          a: {image: "100.64.0.1:5000/web:latest"}
          m: {image: api:2}
        """)
    #expect(stack.services == ["a", "m", "z"])
    #expect(stack.images.map(\.description) == ["100.64.0.1:5000/api:2", "100.64.0.1:5000/web:latest"])
}

// MARK: - Rule 1: document

@Test(arguments: [
    ("services:\n  web:\n    image: x\n   bad: 1\n", "compose file line 4: did not find expected key"),
    ("services:\n  web:\n    image: \"x\n", "compose file line 4: found unexpected end of stream"),
    ("services:\n  web: [a\n", "compose file line 3: did not find expected ',' or ']'"),
    ("services:\n  web:\n    image: x\n\n\n    image: y\n", "compose file line 3: duplicate key \"image\""),
    ("services:\n  web:\n    image: *missing\n", "compose file line 3: found undefined alias"),
    ("services: {}\n---\nservices: {}\n", "compose file line 2: but found another document"),
])
func yamlSyntaxErrorsNameTheLine(yaml: String, expected: String) {
    let message = failure(yaml)
    #expect(message?.hasPrefix(expected) == true, "\(message ?? "no error")")
    #expect(message?.contains("\n") == false)
}

@Test(arguments: [
    ("", "compose file: the document is empty"),
    ("# nothing but a comment\n", "compose file: the document is empty"),
    ("- web\n", "compose file: the top level must be a mapping with \"services\""),
    ("just text\n", "compose file: the top level must be a mapping with \"services\""),
    ("services: {web: {image: web}}\nservice: {}\n",
     "compose file: unknown top-level key \"service\" (allowed: version, services, networks, volumes, configs, secrets, x-*)"),
])
func documentShapeErrors(yaml: String, expected: String) {
    #expect(failure(yaml) == expected)
}

@Test func topLevelExtensionsConfigsAndSecretsAreKept() throws {
    let yaml = web() + "x-note: hello\nconfigs:\n  conf: {file: ./app.conf}\nsecrets:\n  key: {external: true}\n"
    #expect(try output(yaml, "x-note") == "hello")
    #expect(try output(yaml, "configs", "conf", "file") == "./app.conf")
    #expect(try output(yaml, "secrets", "key", "external") == Node("true", Tag(.bool)))
}

@Test func mergeKeysAreAppliedAndAnchorsDropped() throws {
    let yaml = """
        x-base: &base {image: base, restart: always}
        x-more: &more {restart: never, hostname: h}
        services:
          web:
            <<: [*base, *more]
            image: web
        """
    let stack = try prepare(yaml)
    #expect(!stack.yaml.contains("&") && !stack.yaml.contains("*") && !stack.yaml.contains("<<"))
    let service = try #require(try output(yaml, "services", "web"))
    #expect(service == (try node("{restart: always, hostname: h, image: 100.64.0.1:5000/web:latest, deploy: {endpoint_mode: dnsrr}}")))
}

// MARK: - Rule 2: version

@Test(arguments: [
    ("", "3.8"),
    ("version: \"3\"\n", "3"),
    ("version: 3\n", "3"),
    ("version: 3.8\n", "3.8"),
    ("version: '3.10'\n", "3.10"),
])
func versionIsAQuotedStringFirst(line: String, expected: String) throws {
    let yaml = try prepare(web() + line).yaml
    #expect(yaml.hasPrefix("version: \"\(expected)\"\n"))
}

@Test(arguments: ["\"2.4\"", "2", "\"3.x\"", "[3]", "\"latest\""])
func unsupportedVersionsAreRefused(version: String) {
    let message = failure("version: \(version)\n" + web())
    #expect(message?.hasPrefix("compose file: version ") == true)
    #expect(message?.contains("is not supported; docker stack deploy needs \"3\" or \"3.x\"") == true)
}

// MARK: - Rule 3: services

@Test(arguments: [
    ("version: '3.8'\n", "compose file: \"services\" is missing"),
    ("services:\n", "compose file: \"services\" must be a non-empty mapping of service names to definitions"),
    ("services: {}\n", "compose file: \"services\" must be a non-empty mapping of service names to definitions"),
    ("services: [web]\n", "compose file: \"services\" must be a non-empty mapping of service names to definitions"),
    ("services:\n  web: nginx\n", "service \"web\": the definition must be a mapping"),
    ("services:\n  web:\n", "service \"web\": the definition must be a mapping"),
    ("services:\n  web: {ports: [80]}\n",
     "service \"web\": \"image\" is missing; images come from the federation registry: fuse image push / fuse image import"),
    ("services:\n  web: {image: [a]}\n", "service \"web\": image \"[a]\" must be a non-empty string"),
    ("services:\n  web: {image: ''}\n", "service \"web\": image \"\" must be a non-empty string"),
])
func servicesShapeErrors(yaml: String, expected: String) {
    #expect(failure(yaml) == expected)
}

@Test(arguments: ["bad name", "-web", "_web", ".web", "wéb", "web/1", String(repeating: "a", count: 64)])
func invalidServiceNamesAreRefused(name: String) {
    #expect(failure("services:\n  '\(name)': {image: web}\n")
        == "service \"\(name)\": invalid service name (letters, digits, \"_\", \".\" and \"-\", starting with a letter or digit, at most 63 characters)")
}

@Test(arguments: ["web", "Web_1", "a.b-c", "1", String(repeating: "a", count: 63)])
func validServiceNamesAreAccepted(name: String) throws {
    #expect(try prepare("services:\n  '\(name)': {image: web}\n").services == [name])
}

@Test func numericServiceNamesStayStrings() throws {
    let yaml = try prepare("services:\n  123: {image: web}\n").yaml
    #expect(yaml.contains("\n  \"123\":\n"))
}

// MARK: - Rule 4: refused keys, bind mounts, host network

@Test(arguments: [
    ("build: .", "\"build\" is not allowed: images come from the federation registry: fuse image push / fuse image import"),
    ("privileged: true", "\"privileged\" is not allowed: it would give the container control of the company's host"),
    ("cap_add: [NET_ADMIN]", "\"cap_add\" is not allowed: extra capabilities would let the container reach into the company's host"),
    ("devices: ['/dev/sda:/dev/sda']", "\"devices\" is not allowed: it would give the container the company's host devices"),
    ("network_mode: host", "\"network_mode\" is not allowed: services use the stack's overlay networks (use networks)"),
    ("pid: host", "\"pid\" is not allowed: it would share the host's process namespace"),
    ("ipc: host", "\"ipc\" is not allowed: it would share the host's IPC namespace"),
    ("userns_mode: host", "\"userns_mode\" is not allowed: it would turn off user-namespace isolation from the host"),
])
func hostAccessKeysAreRefused(line: String, expected: String) {
    #expect(failure(web(line)) == "service \"web\": " + expected)
}

@Test func everyRefusedKeyIsNamed() {
    let message = failure(web("privileged: true", "build: ."))
    #expect(message?.hasPrefix("service \"web\": \"build\" is not allowed") == true)
    #expect(message?.contains("; \"privileged\" is not allowed") == true)
}

@Test(arguments: [
    ("- /srv/data:/data", "/srv/data:/data"),
    ("- ./data:/data:ro", "./data:/data:ro"),
    ("- ~/data:/data", "~/data:/data"),
    ("- {type: bind, source: /etc, target: /etc}", "{type: bind, source: /etc, target: /etc}"),
])
func bindMountsOfHostPathsAreRefused(entry: String, quoted: String) {
    #expect(failure(web("volumes:", "  " + entry))
        == "service \"web\": volume \"\(quoted)\" is a bind mount of a host path; it would expose the company's host file system (use a named volume)")
}

@Test func namedAnonymousAndTmpfsVolumesAreKept() throws {
    let yaml = web("volumes:", "  - data:/data", "  - /cache", "  - {type: volume, source: logs, target: /logs}",
                   "  - {type: tmpfs, target: /tmp}") + "volumes: {data: {}, logs: {}}\n"
    #expect(try output(yaml, "services", "web", "volumes")
        == (try node("[data:/data, /cache, {type: volume, source: logs, target: /logs}, {type: tmpfs, target: /tmp}]")))
}

@Test func localVolumesThatBindAHostDirectoryAreRefused() {
    let yaml = web() + "volumes:\n  data:\n    driver_opts: {type: none, o: bind, device: /srv}\n"
    #expect(failure(yaml)
        == "volume \"data\": driver_opts \"{type: none, o: bind, device: /srv}\" bind-mount a host path; it would expose the company's host file system")
}

@Test func volumesMustBeAList() {
    #expect(failure(web("volumes: data:/data")) == "service \"web\": \"volumes\" must be a list")
}

@Test(arguments: [
    (web("networks: [host]"), "service \"web\": network \"host\" is not allowed: it would put containers on the company host's network stack"),
    (web("networks: {host: {}}"), "service \"web\": network \"host\" is not allowed: it would put containers on the company host's network stack"),
    (web() + "networks:\n  host: {}\n", "network \"host\": the host network is not allowed: it would put containers on the company host's network stack"),
    (web("networks: [outside]") + "networks:\n  outside: {external: true, name: host}\n",
     "network \"outside\": the host network is not allowed: it would put containers on the company host's network stack"),
    (web("networks: [outside]") + "networks:\n  outside: {external: {name: host}}\n",
     "network \"outside\": the host network is not allowed: it would put containers on the company host's network stack"),
])
func theHostNetworkIsRefused(yaml: String, expected: String) {
    #expect(failure(yaml) == expected)
}

// MARK: - Rule 5: images

@Test(arguments: [
    ("web", "100.64.0.1:5000/web:latest"),
    ("web:1", "100.64.0.1:5000/web:1"),
    ("team/web:2", "100.64.0.1:5000/team/web:2"),
    ("100.64.0.1:5000/web:3", "100.64.0.1:5000/web:3"),
    ("100.64.0.1:5000/team/web", "100.64.0.1:5000/team/web:latest"),
    ("my-org/web.app_v2:v1.0-rc_1", "100.64.0.1:5000/my-org/web.app_v2:v1.0-rc_1"),
])
func imagesArePinnedToTheFederationRegistry(image: String, expected: String) throws {
    let yaml = "services:\n  web: {image: '\(image)'}\n"
    #expect(try output(yaml, "services", "web", "image") == Node(expected))
    #expect(try prepare(yaml).images.map(\.description) == [expected])
}

@Test func imageReferenceParts() throws {
    let image = try #require(try prepare("services:\n  web: {image: team/web:2}\n").images.first)
    #expect(image == ImageReference(registry: registry, repository: "team/web", tag: "2"))
    #expect(image.description == "100.64.0.1:5000/team/web:2")
}

@Test(arguments: [
    ("localhost:5000/x", "is not from the federation registry 100.64.0.1:5000; push it with fuse image push"),
    ("localhost/x", "is not from the federation registry 100.64.0.1:5000; push it with fuse image push"),
    ("docker.io/nginx", "is not from the federation registry 100.64.0.1:5000; push it with fuse image push"),
    ("ghcr.io/team/web:1", "is not from the federation registry 100.64.0.1:5000; push it with fuse image push"),
    ("nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     "has a digest; digests are not supported, use a tag"),
    ("Upper/case", "is invalid: repository part \"Upper\" must be lower-case letters and digits separated by \".\", \"_\" or \"-\""),
    ("web-/x", "is invalid: repository part \"web-\" must be lower-case letters and digits separated by \".\", \"_\" or \"-\""),
    ("team//web", "is invalid: repository part \"\" must be lower-case letters and digits separated by \".\", \"_\" or \"-\""),
    ("web:", "has an invalid tag \"\" (letters, digits, \"_\", \".\" and \"-\", at most 128)"),
    ("web:.x", "has an invalid tag \".x\" (letters, digits, \"_\", \".\" and \"-\", at most 128)"),
    ("web:" + String(repeating: "t", count: 129), "has an invalid tag \"\(String(repeating: "t", count: 129))\" (letters, digits, \"_\", \".\" and \"-\", at most 128)"),
])
func badImagesAreRefused(image: String, why: String) {
    #expect(failure("services:\n  web: {image: '\(image)'}\n") == "service \"web\": image \"\(image)\" \(why)")
}

// MARK: - Rule 6: endpoint mode

@Test(arguments: [
    (web(), "dnsrr"),
    (web("deploy: {replicas: 2}"), "dnsrr"),
    (web("deploy:"), "dnsrr"),
    (web("deploy: {endpoint_mode: vip}"), "vip"),
    (web("deploy: {endpoint_mode: dnsrr}"), "dnsrr"),
])
func endpointModeDefaultsToDNSRoundRobin(yaml: String, expected: String) throws {
    #expect(try output(yaml, "services", "web", "deploy", "endpoint_mode") == Node(expected))
}

@Test func endpointModeIsAppendedAfterTheOperatorsKeys() throws {
    #expect(try output(web("deploy: {mode: global}"), "services", "web", "deploy")
        == (try node("{mode: global, endpoint_mode: dnsrr}")))
}

@Test func unknownEndpointModesAndMalformedDeployAreRefused() {
    #expect(failure(web("deploy: {endpoint_mode: ipvs}"))
        == "service \"web\": deploy.endpoint_mode \"ipvs\" is not supported (vip or dnsrr)")
    #expect(failure(web("deploy: [x]")) == "service \"web\": deploy must be a mapping")
}

// MARK: - Rule 7: ports

@Test(arguments: [
    ("\"8080:80\"", "{target: 80, published: 8080, protocol: tcp, mode: host}"),
    ("8080:80", "{target: 80, published: 8080, protocol: tcp, mode: host}"),
    ("\"8080:80/udp\"", "{target: 80, published: 8080, protocol: udp, mode: host}"),
    ("80", "{target: 80, protocol: tcp, mode: host}"),
    ("\"53/udp\"", "{target: 53, protocol: udp, mode: host}"),
    ("{target: 80}", "{target: 80, protocol: tcp, mode: host}"),
    ("{mode: host, protocol: udp, published: 5353, target: 53}", "{target: 53, published: 5353, protocol: udp, mode: host}"),
    ("{target: '80', published: '8080'}", "{target: 80, published: 8080, protocol: tcp, mode: host}"),
    ("\"65535:1\"", "{target: 1, published: 65535, protocol: tcp, mode: host}"),
])
func portsBecomeLongSyntaxInHostMode(entry: String, expected: String) throws {
    #expect(try output(web("ports: [\(entry)]"), "services", "web", "ports") == Node([try node(expected)]))
}

@Test(arguments: [
    ("{target: 80, published: 8080, mode: ingress}",
     "{target: 80, published: 8080, mode: ingress}\": mode ingress is not supported (there is no routing mesh in a federation); use mode host"),
    ("{target: 80, mode: vip}", "{target: 80, mode: vip}\": mode \"vip\" is not supported; use mode host"),
    ("\"8000-8010:8000-8010\"", "8000-8010:8000-8010\": port ranges are not supported; list each port"),
    ("{target: 80, published: 8000-8010}", "{target: 80, published: 8000-8010}\": port ranges are not supported; list each port"),
    ("\"70000:80\"", "70000:80\": 70000 is out of range 1-65535"),
    ("0", "0\": 0 is out of range 1-65535"),
    ("{target: 65536}", "{target: 65536}\": 65536 is out of range 1-65535"),
    ("\"127.0.0.1:8080:80\"", "127.0.0.1:8080:80\": binding to a host address is not supported; use \"published:target\""),
    ("\"8080:80/sctp\"", "8080:80/sctp\": protocol \"sctp\" is not supported (tcp or udp)"),
    ("\"http\"", "http\": \"http\" is not a port number"),
    ("\":80\"", ":80\": a port number is missing"),
    ("{published: 80}", "{published: 80}\": a port number is missing"),
    ("{target: 80, host_ip: 0.0.0.0}", "{target: 80, host_ip: 0.0.0.0}\": unknown key \"host_ip\" (target, published, protocol, mode)"),
    ("[80]", "[80]\": must be \"published:target[/protocol]\", a port number or a mapping"),
])
func badPortsAreRefused(entry: String, expected: String) {
    #expect(failure(web("ports: [\(entry)]")) == "service \"web\": port \"" + expected)
}

@Test func portsMustBeAList() {
    #expect(failure(web("ports: 80")) == "service \"web\": \"ports\" must be a list")
}

// MARK: - Rule 8: placement

private func constraints(_ lines: String...) throws -> [String] {
    let list = try output(web(lines), "services", "web", "deploy", "placement", "constraints")
    return list?.array().compactMap(\.string) ?? []
}

private func placement(_ constraint: String) -> String {
    web("deploy: {placement: {constraints: ['\(constraint)']}}")
}

@Test(arguments: [
    ("node.role==manager", "node.role == manager"),
    ("node.role == Worker", "node.role == worker"),
    ("  node.id != abc123  ", "node.id != abc123"),
    ("node.hostname==a1.example", "node.hostname == a1.example"),
    ("node.platform.os == linux", "node.platform.os == linux"),
    ("node.platform.arch != aarch64", "node.platform.arch != aarch64"),
    ("node.labels.ssd == true", "node.labels.ssd == true"),
    ("engine.labels.zone==north", "engine.labels.zone == north"),
    ("node.labels.fuse.domain == companya", "node.labels.fuse.domain == companyA"),
    ("node.labels.fuse.domain != CRISIS", "node.labels.fuse.domain != crisis"),
    ("node.labels.fuse.node==MASTER", "node.labels.fuse.node == master"),
])
func constraintsAreCheckedAndNormalised(constraint: String, expected: String) throws {
    #expect(try constraints("deploy: {placement: {constraints: ['\(constraint)']}}") == [expected])
}

@Test func unknownDomainNamesTheCatalogue() {
    #expect(failure(placement("node.labels.fuse.domain == companyX"))
        == "service \"web\": unknown domain \"companyX\" in placement constraint \"node.labels.fuse.domain == companyX\" (domains: companyA, companyB, crisis)")
}

@Test func unknownNodeNamesTheCatalogue() {
    #expect(failure(placement("node.labels.fuse.node==z9"))
        == "service \"web\": unknown node \"z9\" in placement constraint \"node.labels.fuse.node==z9\" (nodes: a1, b1, master)")
}

@Test func anEmptyCatalogueSaysNone() {
    #expect(throws: ComposeError("service \"web\": unknown domain \"crisis\" in placement constraint \"node.labels.fuse.domain == crisis\" (domains: none)")) {
        try Compose.prepare(yaml: web("x-fuse-domain: crisis"), catalogue: PlacementCatalogue(domains: [], nodes: []), registry: registry)
    }
}

@Test(arguments: [
    ("node.role == leader", "unknown role \"leader\" in placement constraint \"node.role == leader\" (roles: manager, worker)"),
    ("node.role = manager", "malformed placement constraint \"node.role = manager\" (expected \"attribute == value\" or \"attribute != value\")"),
    ("node.role ==", "malformed placement constraint \"node.role ==\" (expected \"attribute == value\" or \"attribute != value\")"),
    ("manager", "malformed placement constraint \"manager\" (expected \"attribute == value\" or \"attribute != value\")"),
    ("a == b == c", "malformed placement constraint \"a == b == c\" (expected \"attribute == value\" or \"attribute != value\")"),
    ("node.name == a1", "unsupported attribute \"node.name\" in placement constraint \"node.name == a1\" (node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.<key>, engine.labels.<key>)"),
    ("node.labels. == a1", "unsupported attribute \"node.labels.\" in placement constraint \"node.labels. == a1\" (node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.<key>, engine.labels.<key>)"),
])
func badConstraintsAreRefused(constraint: String, expected: String) {
    #expect(failure(placement(constraint)) == "service \"web\": " + expected)
}

@Test func constraintsMustBeAListOfStrings() {
    #expect(failure(web("deploy: {placement: {constraints: node.role == manager}}"))
        == "service \"web\": deploy.placement.constraints must be a list of strings, not node.role == manager")
    #expect(failure(web("deploy: {placement: {constraints: [[a]]}}"))
        == "service \"web\": deploy.placement.constraints must be a list of strings, not [[a]]")
    #expect(failure(web("deploy: {placement: [a]}")) == "service \"web\": deploy.placement must be a mapping")
}

@Test func shorthandBecomesConstraintsInTheCataloguesSpelling() throws {
    let yaml = web("x-fuse-domain: companyb", "x-fuse-node: B1", "deploy: {placement: {constraints: [node.role == worker]}}")
    let service = try #require(try output(yaml, "services", "web"))
    #expect(service["x-fuse-domain"] == nil && service["x-fuse-node"] == nil)
    #expect(try constraints("x-fuse-domain: companyb", "x-fuse-node: B1", "deploy: {placement: {constraints: [node.role == worker]}}")
        == ["node.role == worker", "node.labels.fuse.domain == companyB", "node.labels.fuse.node == b1"])
}

@Test func shorthandCreatesDeployAndPlacement() throws {
    #expect(try output(web("x-fuse-domain: crisis"), "services", "web", "deploy")
        == (try node("{endpoint_mode: dnsrr, placement: {constraints: [node.labels.fuse.domain == crisis]}}")))
}

@Test func shorthandDoesNotRepeatAConstraint() throws {
    #expect(try constraints("x-fuse-domain: crisis", "deploy: {placement: {constraints: ['node.labels.fuse.domain==CRISIS']}}")
        == ["node.labels.fuse.domain == crisis"])
}

@Test func shorthandIsValidatedLikeAConstraint() {
    #expect(failure(web("x-fuse-domain: companyX"))
        == "service \"web\": unknown domain \"companyX\" in placement constraint \"node.labels.fuse.domain == companyX\" (domains: companyA, companyB, crisis)")
    #expect(failure(web("x-fuse-node: [a1]")) == "service \"web\": x-fuse-node \"[a1]\" must be a string")
}

@Test func placementWithoutConstraintsIsLeftAlone() throws {
    #expect(try output(web("deploy: {placement: {max_replicas_per_node: 1}}"), "services", "web", "deploy", "placement")
        == (try node("{max_replicas_per_node: 1}")))
    #expect(try output(web(), "services", "web", "deploy", "placement") == nil)
}

// MARK: - Rule 9: networks

private let overlay = "{driver: overlay, attachable: true, driver_opts: {com.docker.network.driver.mtu: \"1420\"}}"

@Test func theDefaultNetworkIsCreatedAsAnOverlay() throws {
    #expect(try output(web(), "networks") == (try node("{default: \(overlay)}")))
    #expect(try output(web("networks: [default]"), "networks") == (try node("{default: \(overlay)}")))
}

@Test func definedNetworksBecomeAttachableOverlaysWithTheTunnelMTU() throws {
    let yaml = web("networks: [front, back]") + """
        networks:
          front:
          back:
            driver: overlay
            attachable: false
            driver_opts: {com.docker.network.driver.mtu: "1380"}
            labels: [team=a]
        """
    #expect(try output(yaml, "networks") == (try node("""
        front: \(overlay)
        back:
          driver: overlay
          attachable: false
          driver_opts: {com.docker.network.driver.mtu: "1380"}
          labels: [team=a]
        """)))
}

@Test func externalNetworksAreLeftAsTheyAre() throws {
    let yaml = web("networks: {shared: {aliases: [www]}}") + "networks:\n  shared: {external: true, name: fuse-shared}\n"
    #expect(try output(yaml, "networks") == (try node("{shared: {external: true, name: fuse-shared}}")))
}

@Test func otherDriversAndUndefinedNetworksAreRefused() {
    #expect(failure(web() + "networks: {default: {driver: bridge}}\n")
        == "network \"default\": driver \"bridge\" is not supported; the stack runs on a Swarm overlay (use driver overlay)")
    #expect(failure(web("networks: [backend]"))
        == "service \"web\": network \"backend\" is not defined under the top-level networks")
    #expect(failure(web("networks: backend")) == "service \"web\": \"networks\" must be a list or a mapping")
    #expect(failure(web() + "networks: {default: {driver_opts: [mtu]}}\n") == "network \"default\": driver_opts must be a mapping")
}

// MARK: - Stack names

@Test(arguments: ["web", "a", "1st", "my_stack-2", String(repeating: "s", count: 40)])
func validStackNames(name: String) throws {
    try Compose.validateStackName(name)
}

@Test(arguments: ["", "Web", "-web", "_web", "my stack", "my.stack", "wéb", String(repeating: "s", count: 41)])
func invalidStackNames(name: String) {
    #expect(throws: ComposeError("invalid stack name \"\(name)\": use 1-40 lower-case letters, digits, \"_\" or \"-\", starting with a letter or digit")) {
        try Compose.validateStackName(name)
    }
}

@Test func composeErrorDescribesItselfByItsMessage() {
    #expect(ComposeError("service \"web\": x").description == "service \"web\": x")
}
