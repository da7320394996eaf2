import Foundation
import FuseControl
import FuseModel
import Hummingbird
import HummingbirdTesting
import Testing

/// A federation of the master (domain "crisis", 10.77.0.1) and two workers: `a` (domain
/// CompanyA, 10.77.0.2) and `b` (domain companyB, 10.77.0.3).
struct TwoWorkers {
    let a: API.JoinResponse
    let b: API.JoinResponse
    var aCredential: String { a.credential }
    var bCredential: String { b.credential }
    var aAddress: IPv4Address { a.map.node.address }
    var bAddress: IPv4Address { b.map.node.address }
    static let master = IPv4Address("10.77.0.1")!

    static func join(_ client: any TestClientProtocol) async throws -> TwoWorkers {
        let (_, tokenA) = try await client.createToken(domain: "CompanyA")
        let a = try await client.join(token: tokenA, name: "worker-a")
        try #require(a.status == .created, "\(a.text)")
        let (_, tokenB) = try await client.createToken(domain: "companyB")
        let b = try await client.join(token: tokenB, name: "worker-b")
        try #require(b.status == .created, "\(b.text)")
        return TwoWorkers(a: try a.decode(API.JoinResponse.self), b: try b.decode(API.JoinResponse.self))
    }
}

/// The wiki of worker-a's LAN: tcp 8080 at worker-a's VPN address → 192.168.10.20:80.
let wikiRequest = API.ExposeRequest(name: "Wiki", proto: .tcp, port: 8080, target: IPv4Address("192.168.10.20")!, targetPort: 80)

extension TestClientProtocol {
    func expose(_ request: API.ExposeRequest, bearer: String) async throws -> TestResponse {
        try await send(.post, "/v1/exposures", bearer: bearer, json: request)
    }

    func map(_ credential: String) async throws -> NetworkMap {
        let response = try await send(.get, "/v1/map", bearer: credential)
        try #require(response.status == .ok, "\(response.text)")
        return try response.decode(NetworkMap.self)
    }

    func services(_ bearer: String = Harness.admin) async throws -> [API.ServiceInfo] {
        let response = try await send(.get, "/v1/services", bearer: bearer)
        try #require(response.status == .ok, "\(response.text)")
        return try response.decode([API.ServiceInfo].self)
    }

    func putPolicy(_ text: String, bearer: String = Harness.admin) async throws -> TestResponse {
        try await send(.put, "/v1/policy", bearer: bearer, json: API.PolicyBody(text: text))
    }

    func policyTest(_ request: API.PolicyTestRequest) async throws -> TestResponse {
        try await send(.post, "/v1/policy/test", bearer: Harness.admin, json: request)
    }
}

@Suite struct ExposureRouteTests {
    @Test func nodeExposesForItself() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            let response = try await client.expose(wikiRequest, bearer: workers.aCredential)
            #expect(response.status == .created, "\(response.text)")
            let exposure = try response.decode(Exposure.self)
            #expect(exposure == Exposure(name: "Wiki", node: "worker-a", domain: "CompanyA", proto: .tcp, port: 8080,
                                         target: IPv4Address("192.168.10.20")!, targetPort: 80))
            #expect(try harness.store.exposures() == [exposure])

            // Naming itself explicitly (in another case) is fine too.
            let own = API.ExposeRequest(name: "nas", proto: .udp, port: 2049, target: IPv4Address("192.168.10.21")!, targetPort: 2049, node: "WORKER-A")
            let second = try await client.expose(own, bearer: workers.aCredential)
            #expect(second.status == .created, "\(second.text)")
            #expect(try second.decode(Exposure.self).node == "worker-a")
        }
    }

    @Test func nodeCannotExposeForAnotherNode() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            let request = API.ExposeRequest(name: "wiki", proto: .tcp, port: 8080, target: IPv4Address("192.168.10.20")!, targetPort: 80, node: "worker-b")
            expectError(try await client.expose(request, bearer: workers.aCredential), .forbidden, "a node can only expose services of its own LAN")
            let toMaster = API.ExposeRequest(name: "wiki", proto: .tcp, port: 8080, target: IPv4Address("192.168.10.20")!, targetPort: 80, node: "master")
            expectError(try await client.expose(toMaster, bearer: workers.aCredential), .forbidden, "a node can only expose services of its own LAN")
            #expect(try harness.store.exposures().isEmpty)
            // Without any credential.
            expectError(try await client.send(.post, "/v1/exposures", json: wikiRequest), .unauthorized, "a credential is required")
        }
    }

    @Test func operatorExposesForANamedNodeOrTheMaster() async throws {
        try await Harness.withAPI { harness, client in
            _ = try await TwoWorkers.join(client)
            let forB = API.ExposeRequest(name: "printer", proto: .tcp, port: 631, target: IPv4Address("192.168.20.5")!, targetPort: 631, node: "Worker-B")
            let response = try await client.expose(forB, bearer: Harness.admin)
            #expect(response.status == .created, "\(response.text)")
            let exposure = try response.decode(Exposure.self)
            #expect(exposure.node == "worker-b")
            #expect(exposure.domain == "companyB")

            let forMaster = API.ExposeRequest(name: "radio", proto: .udp, port: 5000, target: IPv4Address("192.168.1.9")!, targetPort: 5000)
            let masterResponse = try await client.expose(forMaster, bearer: Harness.admin)
            #expect(masterResponse.status == .created, "\(masterResponse.text)")
            let masterExposure = try masterResponse.decode(Exposure.self)
            #expect(masterExposure.node == "master")
            #expect(masterExposure.domain == "crisis")

            let ghost = API.ExposeRequest(name: "ghost", proto: .tcp, port: 80, target: IPv4Address("192.168.1.9")!, targetPort: 80, node: "nobody")
            expectError(try await client.expose(ghost, bearer: Harness.admin), .notFound, "no node named nobody")
        }
    }

    @Test func badExposures() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            let lan = IPv4Address("192.168.10.20")!
            expectError(try await client.expose(API.ExposeRequest(name: "ping", proto: .icmp, port: 1, target: lan, targetPort: 1), bearer: workers.aCredential),
                        .badRequest, "an exposure is tcp or udp")
            expectError(try await client.expose(API.ExposeRequest(name: "loop", proto: .tcp, port: 80, target: IPv4Address("10.77.0.3")!, targetPort: 80), bearer: workers.aCredential),
                        .badRequest, "target 10.77.0.3 is in the federation's VPN range 10.77.0.0/24; an exposure publishes one device of the node's LAN")
            expectError(try await client.expose(API.ExposeRequest(name: "bad_name", proto: .tcp, port: 80, target: lan, targetPort: 80), bearer: workers.aCredential),
                        .badRequest)
            expectError(try await client.expose(API.ExposeRequest(name: "zero", proto: .tcp, port: 0, target: lan, targetPort: 80), bearer: workers.aCredential),
                        .badRequest, "bad port 0: use 1-65535")
            #expect(try harness.store.exposures().isEmpty)

            #expect(try await client.expose(wikiRequest, bearer: workers.aCredential).status == .created)
            // The same name (in any case), even from another node.
            let sameName = API.ExposeRequest(name: "WIKI", proto: .tcp, port: 9000, target: lan, targetPort: 80)
            expectError(try await client.expose(sameName, bearer: workers.bCredential), .conflict, "an exposure named Wiki already exists in the federation")
            // The same node, proto and port.
            let samePort = API.ExposeRequest(name: "other", proto: .tcp, port: 8080, target: IPv4Address("192.168.10.30")!, targetPort: 8080)
            expectError(try await client.expose(samePort, bearer: workers.aCredential), .conflict, "worker-a already exposes tcp port 8080 (exposure Wiki)")
            // The same port with the other proto, or on another node, is fine.
            let udp = API.ExposeRequest(name: "wiki-udp", proto: .udp, port: 8080, target: lan, targetPort: 80)
            #expect(try await client.expose(udp, bearer: workers.aCredential).status == .created)
            let onB = API.ExposeRequest(name: "wiki-b", proto: .tcp, port: 8080, target: lan, targetPort: 80)
            #expect(try await client.expose(onB, bearer: workers.bCredential).status == .created)

            // The master's control-plane port on the master.
            let api = API.ExposeRequest(name: "api", proto: .tcp, port: 7443, target: IPv4Address("192.168.1.2")!, targetPort: 443)
            expectError(try await client.expose(api, bearer: Harness.admin), .conflict, "tcp port 7443 on the master is the control plane's")
            // ... which a worker may use.
            #expect(try await client.expose(api, bearer: workers.aCredential).status == .created)
            #expect(try harness.store.exposures().count == 4)
        }
    }

    @Test func exposingNodeGetsTheFirewallPerTheDefaultPolicy() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            let before = try await client.map(workers.aCredential)
            #expect(before.firewall.exposures.isEmpty)
            let exposure = try await client.expose(wikiRequest, bearer: workers.aCredential).decode(Exposure.self)

            let map = try await client.map(workers.aCredential)
            #expect(map.version > before.version)
            // The master's domain reaches every exposure; worker-b (companyB) does not.
            #expect(map.firewall.exposures == [ExposureRule(exposure: exposure, sources: [TwoWorkers.master])])
            #expect(!map.firewall.exposures.flatMap(\.sources).contains(workers.bAddress))
            // The other worker's map has no exposures of its own.
            #expect(try await client.map(workers.bCredential).firewall.exposures.isEmpty)
            // The hub forwards nothing between workers (the master itself is no forwarded source).
            let hub = try #require(try await harness.controlPlane.map(for: "master"))
            #expect(hub.firewall.forward.isEmpty)
        }
    }
}

@Suite struct ServiceRouteTests {
    @Test func servicesListExposuresWithoutTheirTargets() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            #expect(try await client.services().isEmpty)
            #expect(try await client.expose(wikiRequest, bearer: workers.aCredential).status == .created)

            for bearer in [Harness.admin, workers.aCredential, workers.bCredential] {
                let response = try await client.send(.get, "/v1/services", bearer: bearer)
                #expect(response.status == .ok)
                #expect(!response.text.contains("192.168.10.20"), "the LAN target leaked: \(response.text)")
                #expect(!response.text.contains("targetPort"), "\(response.text)")
                let services = try response.decode([API.ServiceInfo].self)
                #expect(services.count == 1)
                let service = try #require(services.first)
                #expect(service.name == "Wiki")
                #expect(service.domain == "CompanyA")
                #expect(service.node == "worker-a")
                #expect(service.address == workers.aAddress)
                #expect(service.port == 8080)
                #expect(service.proto == .tcp)
                #expect(service.dnsName == "wiki.companya.fuse")
                #expect(service.allowedFrom == ["master"])
            }
            expectError(try await client.send(.get, "/v1/services"), .unauthorized, "a credential is required")
        }
    }

    @Test func deleteByOwnerOnly() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            #expect(try await client.expose(wikiRequest, bearer: workers.aCredential).status == .created)
            let version = try harness.store.mapVersion()

            expectError(try await client.send(.delete, "/v1/exposures/Wiki", bearer: workers.bCredential), .notFound, "no exposure named Wiki on worker-b")
            expectError(try await client.send(.delete, "/v1/exposures/Wiki"), .unauthorized, "a credential is required")
            #expect(try await client.services().map(\.name) == ["Wiki"])
            #expect(try harness.store.mapVersion() == version)

            let deleted = try await client.send(.delete, "/v1/exposures/wiki", bearer: workers.aCredential)
            #expect(deleted.status == .noContent, "\(deleted.text)")
            #expect(try await client.services().isEmpty)
            let map = try await client.map(workers.aCredential)
            #expect(map.version > version)
            #expect(map.firewall.exposures.isEmpty)
            #expect(harness.controlPlane.resolve("wiki.companya.fuse") == nil)
            expectError(try await client.send(.delete, "/v1/exposures/wiki", bearer: workers.aCredential), .notFound, "no exposure named wiki on worker-a")
        }
    }

    @Test func operatorDeletesAnyExposure() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            #expect(try await client.expose(wikiRequest, bearer: workers.aCredential).status == .created)
            #expect(try await client.send(.delete, "/v1/exposures/Wiki", bearer: Harness.admin).status == .noContent)
            #expect(try await client.services().isEmpty)
            expectError(try await client.send(.delete, "/v1/exposures/Wiki", bearer: Harness.admin), .notFound, "no exposure named Wiki")
        }
    }

    @Test func removingANodeRemovesItsExposures() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            #expect(try await client.expose(wikiRequest, bearer: workers.aCredential).status == .created)
            #expect(harness.controlPlane.resolve("wiki.companya.fuse") == workers.aAddress)
            #expect(try await client.send(.delete, "/v1/nodes/worker-a", bearer: Harness.admin).status == .noContent)
            #expect(try await client.services().isEmpty)
            #expect(try harness.store.exposures().isEmpty)
            #expect(harness.controlPlane.resolve("wiki.companya.fuse") == nil)
            #expect(harness.controlPlane.resolve("worker-a.companya.fuse") == nil)
            // The name is free again.
            #expect(try await client.expose(wikiRequest, bearer: workers.bCredential).status == .created)
        }
    }

    @Test func resolveNamesCaseInsensitively() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            #expect(try await client.expose(wikiRequest, bearer: workers.aCredential).status == .created)
            let plane = harness.controlPlane
            #expect(plane.resolve("wiki.companya.fuse") == workers.aAddress)
            #expect(plane.resolve("WIKI.CompanyA.FUSE") == workers.aAddress)
            #expect(plane.resolve("worker-a.companya.fuse") == workers.aAddress)
            #expect(plane.resolve("Worker-B.COMPANYB.fuse") == workers.bAddress)
            #expect(plane.resolve("master.crisis.fuse") == TwoWorkers.master)
            #expect(plane.resolve("nope.companya.fuse") == nil)
            #expect(plane.resolve("wiki.companyb.fuse") == nil, "an exposure's name is under its own domain only")
            #expect(plane.resolve("wiki.fuse") == nil)
        }
    }
}

@Suite struct PolicyRouteTests {
    static let badJSON = """
    {
      "rules": [
        {"from": ["*"], "to": ["*"]
      ]
    }
    """

    static let unknownExposure = """
    {
      "rules": [
        {"from": ["domain:companyB"], "to": ["exposure:nope"]}
      ]
    }
    """

    static let good = """
    {
      "comment": "companyB may use the wiki",
      "rules": [
        {"name": "crisis-all", "from": ["domain:crisis"], "to": ["exposure:*"]},
        {"name": "b-to-wiki", "from": ["domain:companyB"], "to": ["exposure:wiki"], "proto": "tcp", "ports": [8080]}
      ]
    }
    """

    @Test func onlyTheOperator() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            expectError(try await client.putPolicy(Self.good, bearer: workers.aCredential), .unauthorized, "the operator's credential is required")
            expectError(try await client.send(.put, "/v1/policy", json: API.PolicyBody(text: Self.good)), .unauthorized, "the operator's credential is required")
            expectError(try await client.send(.get, "/v1/policy", bearer: workers.aCredential), .unauthorized, "the operator's credential is required")
            let testRequest = API.PolicyTestRequest(source: "worker-a", destination: "worker-b", port: 22, proto: .tcp)
            expectError(try await client.send(.post, "/v1/policy/test", bearer: workers.aCredential, json: testRequest), .unauthorized,
                        "the operator's credential is required")
            #expect(try harness.store.policy() == nil)
        }
    }

    @Test func defaultPolicyBeforeAnySet() async throws {
        try await Harness.withAPI { harness, client in
            let response = try await client.send(.get, "/v1/policy", bearer: Harness.admin)
            #expect(response.status == .ok)
            let info = try response.decode(API.PolicyInfo.self)
            #expect(info.isDefault)
            #expect(info.version == nil)
            #expect(try Policy.parse(info.text) == Policy.defaultPolicy(masterDomain: "crisis"))
        }
    }

    @Test func badPoliciesNameTheLineAndKeepThePrevious() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            #expect(try await client.expose(wikiRequest, bearer: workers.aCredential).status == .created)
            let defaultText = try await client.send(.get, "/v1/policy", bearer: Harness.admin).decode(API.PolicyInfo.self).text
            let version = try harness.store.mapVersion()

            let malformed = try await client.putPolicy(Self.badJSON)
            expectError(malformed, .badRequest, "policy line 4: not valid JSON: expected ',' or '}' after a value in an object, found ']'")
            #expect(malformed.errorMessage()?.contains("line 4") == true)

            let unknown = try await client.putPolicy(Self.unknownExposure)
            expectError(unknown, .badRequest, #"policy line 3 (rule 1): unknown exposure "nope" in "exposure:nope" (known: wiki)"#)

            let info = try await client.send(.get, "/v1/policy", bearer: Harness.admin).decode(API.PolicyInfo.self)
            #expect(info.isDefault)
            #expect(info.version == nil)
            #expect(info.text == defaultText)
            #expect(try harness.store.policy() == nil)
            #expect(try harness.store.mapVersion() == version)
            #expect(try await client.services().first?.allowedFrom == ["master"])
        }
    }

    @Test func goodPolicyChangesTheFirewalls() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            let exposure = try await client.expose(wikiRequest, bearer: workers.aCredential).decode(Exposure.self)
            let before = try await client.map(workers.aCredential)
            #expect(before.firewall.exposures.first?.sources == [TwoWorkers.master])

            let response = try await client.putPolicy(Self.good)
            #expect(response.status == .ok, "\(response.text)")
            let info = try response.decode(API.PolicyInfo.self)
            #expect(info.version == 1)
            #expect(!info.isDefault)
            #expect(info.text == Self.good)

            let got = try await client.send(.get, "/v1/policy", bearer: Harness.admin).decode(API.PolicyInfo.self)
            #expect(got.version == 1)
            #expect(!got.isDefault)
            #expect(got.text == Self.good)

            let map = try await client.map(workers.aCredential)
            #expect(map.version > before.version)
            #expect(map.firewall.exposures == [ExposureRule(exposure: exposure, sources: [TwoWorkers.master, workers.bAddress])])
            let hub = try #require(try await harness.controlPlane.map(for: "master"))
            #expect(hub.firewall.forward == [ForwardFlow(destinations: [workers.aAddress],
                                                         flow: AllowedFlow(sources: [workers.bAddress], proto: .tcp, port: 8080))])
            #expect(try await client.services().first?.allowedFrom == ["master", "worker-b"])

            // A second version.
            let second = try await client.putPolicy(#"{"rules": [{"from": ["node:worker-a"], "to": ["node:worker-b"], "proto": "tcp", "ports": [22]}]}"#)
            #expect(second.status == .ok, "\(second.text)")
            #expect(try second.decode(API.PolicyInfo.self).version == 2)
            #expect(try await client.map(workers.aCredential).firewall.exposures == [ExposureRule(exposure: exposure, sources: [])])
            #expect(try await client.map(workers.bCredential).firewall.inbound == [AllowedFlow(sources: [workers.aAddress], proto: .tcp, port: 22)])
            let hub2 = try #require(try await harness.controlPlane.map(for: "master"))
            #expect(hub2.firewall.forward == [ForwardFlow(destinations: [workers.bAddress],
                                                          flow: AllowedFlow(sources: [workers.aAddress], proto: .tcp, port: 22))])
            #expect(try await client.services().first?.allowedFrom == [])
        }
    }

    @Test func policyTest() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            #expect(try await client.expose(wikiRequest, bearer: workers.aCredential).status == .created)
            #expect(try await client.putPolicy(Self.good).status == .ok)

            let allow = try await client.policyTest(API.PolicyTestRequest(source: "worker-b", destination: "wiki", port: nil, proto: .tcp))
            #expect(allow.status == .ok, "\(allow.text)")
            #expect(try allow.decode(PolicyDecision.self) == PolicyDecision(allowed: true, rule: "b-to-wiki"))

            let explicit = try await client.policyTest(API.PolicyTestRequest(source: "node:Worker-B", destination: "exposure:WIKI", port: 8080, proto: .tcp))
            #expect(try explicit.decode(PolicyDecision.self) == PolicyDecision(allowed: true, rule: "b-to-wiki"))

            let fromMaster = try await client.policyTest(API.PolicyTestRequest(source: "master", destination: "wiki", port: nil, proto: .tcp))
            #expect(try fromMaster.decode(PolicyDecision.self) == PolicyDecision(allowed: true, rule: "crisis-all"))

            let deny = try await client.policyTest(API.PolicyTestRequest(source: "worker-b", destination: "worker-a", port: 22, proto: .tcp))
            #expect(deny.status == .ok, "\(deny.text)")
            #expect(try deny.decode(PolicyDecision.self) == PolicyDecision(allowed: false, rule: "default: deny"))

            let wrongProto = try await client.policyTest(API.PolicyTestRequest(source: "worker-b", destination: "wiki", port: nil, proto: .udp))
            #expect(try wrongProto.decode(PolicyDecision.self) == PolicyDecision(allowed: false, rule: "default: deny"))

            let builtIn = try await client.policyTest(API.PolicyTestRequest(source: "worker-b", destination: "master", port: 7443, proto: .tcp))
            #expect(try builtIn.decode(PolicyDecision.self) == PolicyDecision(allowed: true, rule: "built-in: control plane"))

            expectError(try await client.policyTest(API.PolicyTestRequest(source: "ghost", destination: "wiki", port: nil, proto: .tcp)),
                        .notFound, "no node named ghost")
            expectError(try await client.policyTest(API.PolicyTestRequest(source: "worker-b", destination: "nothing", port: nil, proto: .tcp)),
                        .notFound, "no exposure or node named nothing")
            expectError(try await client.policyTest(API.PolicyTestRequest(source: "worker-b", destination: "worker-a", port: 7, proto: .icmp)),
                        .badRequest, "icmp has no port")
            let ping = try await client.policyTest(API.PolicyTestRequest(source: "worker-b", destination: "worker-a", port: nil, proto: .icmp))
            #expect(try ping.decode(PolicyDecision.self) == PolicyDecision(allowed: false, rule: "default: deny"))
        }
    }

    @Test func policyTestUnderTheDefault() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            #expect(try await client.expose(wikiRequest, bearer: workers.aCredential).status == .created)
            let master = try await client.policyTest(API.PolicyTestRequest(source: "master", destination: "wiki", port: nil, proto: .tcp))
            #expect(try master.decode(PolicyDecision.self) == PolicyDecision(allowed: true, rule: Policy.defaultRuleName))
            let b = try await client.policyTest(API.PolicyTestRequest(source: "worker-b", destination: "wiki", port: nil, proto: .tcp))
            #expect(try b.decode(PolicyDecision.self) == PolicyDecision(allowed: false, rule: "default: deny"))
        }
    }

    @Test func settingAPolicyWakesLongPolls() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            #expect(try await client.expose(wikiRequest, bearer: workers.aCredential).status == .created)
            let current = try harness.store.mapVersion()
            let clock = ContinuousClock()
            let start = clock.now
            let credential = workers.aCredential
            let poll = Task {
                let response = try await client.send(.get, "/v1/map?since=\(current)&wait=10", bearer: credential)
                return (response, clock.now)
            }
            try await harness.waitForParkedPoll()
            let setAt = clock.now
            #expect(try await client.putPolicy(Self.good).status == .ok)
            let (response, returnedAt) = try await poll.value
            #expect(response.status == .ok)
            let map = try response.decode(NetworkMap.self)
            #expect(map.version > current)
            #expect(map.firewall.exposures.first?.sources == [TwoWorkers.master, workers.bAddress])
            #expect(returnedAt >= setAt, "the poll returned before the policy was set")
            #expect(returnedAt - setAt < .seconds(1))
            #expect(returnedAt - start < .seconds(3))
        }
    }
}

extension ServiceRouteTests {
    /// `NAME.DOMAIN.fuse` names a node and an exposure alike: an exposure must not take the
    /// DNS name of a node of its domain (it would redirect that node's name to another node).
    @Test func exposureCannotTakeANodesDNSName() async throws {
        try await Harness.withAPI { harness, client in
            let workers = try await TwoWorkers.join(client)
            let (_, tokenC) = try await client.createToken(domain: "companya")
            let c = try await client.join(token: tokenC, name: "worker-c").decode(API.JoinResponse.self)
            let hijack = API.ExposeRequest(name: "Worker-A", proto: .tcp, port: 80, target: IPv4Address("192.168.30.1")!, targetPort: 80)
            let response = try await client.expose(hijack, bearer: c.credential)
            #expect(response.status == .conflict, "worker-c took the name worker-a.companya.fuse: \(response.text)")
            #expect(harness.controlPlane.resolve("worker-a.companya.fuse") == workers.aAddress)
        }
    }
}
