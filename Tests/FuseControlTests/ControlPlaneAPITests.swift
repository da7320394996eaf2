import Foundation
import FuseControl
import FuseModel
import Hummingbird
import HummingbirdTesting
import Testing

@Suite struct PublicRouteTests {
    @Test func healthWithoutCredential() async throws {
        try await Harness.withAPI { harness, client in
            let response = try await client.send(.get, "/v1/health")
            #expect(response.status == .ok)
            #expect(response.text == #"{"federation":"testfed","status":"ok"}"#)
        }
    }

    @Test func caWithoutCredential() async throws {
        try await Harness.withAPI { harness, client in
            let response = try await client.send(.get, "/v1/ca")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/x-pem-file")
            #expect(response.text == harness.controlPlane.caPEM)
            #expect(response.text.hasPrefix("-----BEGIN CERTIFICATE-----"))
            #expect(CAPin.of(pem: response.text) == harness.controlPlane.caPin)
        }
    }
}

@Suite struct TokenRouteTests {
    let request = API.TokenCreateRequest(domain: "CompanyA", ttlSeconds: 600, uses: 3)

    @Test func creationNeedsTheOperator() async throws {
        try await Harness.withAPI { harness, client in
            expectError(try await client.send(.post, "/v1/tokens", json: request), .unauthorized, "the operator's credential is required")
            expectError(try await client.send(.post, "/v1/tokens", bearer: "admin:wrong", json: request), .unauthorized, "unknown or revoked credential")
            expectError(try await client.send(.post, "/v1/tokens", bearer: "admin:", json: request), .unauthorized, "unknown or revoked credential")
            expectError(try await client.send(.post, "/v1/tokens", bearer: Harness.adminSecret, json: request), .unauthorized, "unknown or revoked credential")
            var basic: HTTPFields = [.authorization: "Basic YWRtaW46eA=="]
            basic[.contentType] = "application/json"
            expectError(try await client.execute(uri: "/v1/tokens", method: .post, headers: basic, body: try jsonBody(request)),
                        .unauthorized, "expected a Bearer credential")
            #expect(try harness.store.tokens().isEmpty)
        }
    }

    @Test func operatorCreatesAndListsTokens() async throws {
        try await Harness.withAPI { harness, client in
            let response = try await client.send(.post, "/v1/tokens", bearer: Harness.admin, json: request)
            #expect(response.status == .created)
            let created = try response.decode(API.TokenCreateResponse.self)
            #expect(created.token.domain == "CompanyA", "the case people typed is kept")
            #expect(created.token.maxUses == 3)
            #expect(created.token.uses == 0)
            #expect(created.token.state == .valid)
            #expect(created.token.createdAt == harness.clock.now)
            #expect(created.token.expiresAt == harness.clock.now.addingTimeInterval(600))
            let join = try JoinString(parsing: created.join)
            #expect(join.host == "master.example.org")
            #expect(join.apiPort == 7443)
            #expect(join.caPin == harness.controlPlane.caPin)
            #expect(join.tokenID == created.token.id)
            // The store has the digest only.
            let stored = try #require(try harness.store.tokens().first)
            #expect(stored.secretDigest == Secret.digest(join.secret))
            #expect(!response.text.isEmpty)

            let list = try await client.send(.get, "/v1/tokens", bearer: Harness.admin)
            #expect(list.status == .ok)
            let tokens = try list.decode([API.TokenInfo].self)
            #expect(tokens.map(\.id) == [created.token.id])
            #expect(!list.text.contains(join.secret))
            expectError(try await client.send(.get, "/v1/tokens"), .unauthorized)
        }
    }

    @Test func badTokenRequests() async throws {
        try await Harness.withAPI { harness, client in
            for bad in [API.TokenCreateRequest(domain: "bad_domain", ttlSeconds: 60, uses: 1),
                        API.TokenCreateRequest(domain: "d", ttlSeconds: 0, uses: 1),
                        API.TokenCreateRequest(domain: "d", ttlSeconds: 367 * 86400, uses: 1),
                        API.TokenCreateRequest(domain: "d", ttlSeconds: 60, uses: 0)] {
                expectError(try await client.send(.post, "/v1/tokens", bearer: Harness.admin, json: bad), .badRequest)
            }
            #expect(try harness.store.tokens().isEmpty)
        }
    }
}

@Suite struct JoinTests {
    @Test func joinGivesSecondHostAndAWorkingCredential() async throws {
        try await Harness.withAPI { harness, client in
            let (_, token) = try await client.createToken(domain: "companyb")
            let key = WireGuardKey.generatePrivate().publicKey
            let response = try await client.join(token: token, name: "Worker-1", key: key)
            #expect(response.status == .created, "\(response.text)")
            let joined = try response.decode(API.JoinResponse.self)
            let map = joined.map
            #expect(map.node == NodeRecord(name: "Worker-1", domain: "companyb", address: IPv4Address("10.77.0.2")!, publicKey: key, isMaster: false))
            #expect(map.cidr.description == "10.77.0.0/24")
            #expect(map.interfaceAddress == "10.77.0.2/24")
            #expect(map.masterAddress == IPv4Address("10.77.0.1"))
            #expect(!map.isHub)
            #expect(map.peers == [MapPeer(name: "master", publicKey: harness.masterKey, endpoint: "master.example.org:51999",
                                          allowedIPs: [harness.config.cidr], persistentKeepalive: 25)])
            #expect(joined.credential.hasPrefix("Worker-1."), "the name keeps the case it was given")
            // The credential is stored as a digest only.
            let secret = String(joined.credential.dropFirst("Worker-1.".count))
            #expect(try harness.store.credentialDigest(of: "Worker-1") == Secret.digest(secret))
            #expect(try harness.store.credentialDigest(of: "worker-1") == nil, "a credential names its node exactly as issued")

            let mapResponse = try await client.send(.get, "/v1/map", bearer: joined.credential)
            #expect(mapResponse.status == .ok)
            #expect(try mapResponse.decode(NetworkMap.self) == map)

            let heartbeat = try await client.send(.post, "/v1/heartbeat", bearer: joined.credential, json: API.Heartbeat(mapVersion: map.version, tunnelUp: true))
            #expect(heartbeat.status == .noContent)

            // The hub's map now has the worker.
            let hubMap = try #require(try await harness.controlPlane.map(for: "master"))
            #expect(hubMap.peers.map(\.name) == ["Worker-1"])
            #expect(hubMap.peers.first?.allowedIPs.map(\.description) == ["10.77.0.2/32"])

            // Status and node list: any credential.
            let status = try await client.send(.get, "/v1/status", bearer: joined.credential)
            #expect(status.status == .ok)
            let info = try status.decode(API.Status.self)
            #expect(info.nodes == 2)
            #expect(info.cidr.description == "10.77.0.0/24")
            #expect(info.caPin == harness.controlPlane.caPin)
            let nodes = try await client.send(.get, "/v1/nodes", bearer: Harness.admin)
            #expect(try nodes.decode([API.NodeInfo].self).map(\.name).sorted() == ["Worker-1", "master"])
            expectError(try await client.send(.get, "/v1/status"), .unauthorized, "a credential is required")
            expectError(try await client.send(.get, "/v1/nodes"), .unauthorized, "a credential is required")
        }
    }

    @Test func nextJoinsGetTheNextAddresses() async throws {
        try await Harness.withAPI { harness, client in
            let (_, token) = try await client.createToken(uses: 3)
            var addresses: [String] = []
            for name in ["a", "b", "c"] {
                let response = try await client.join(token: token, name: name)
                #expect(response.status == .created)
                addresses.append(try response.decode(API.JoinResponse.self).map.node.address.description)
            }
            #expect(addresses == ["10.77.0.2", "10.77.0.3", "10.77.0.4"])
            expectError(try await client.join(token: token, name: "d"), .unauthorized, "join token has no uses left")
        }
    }

    @Test func oneUseTokenCannotBeReused() async throws {
        try await Harness.withAPI { harness, client in
            let (_, token) = try await client.createToken(uses: 1)
            #expect(try await client.join(token: token, name: "first").status == .created)
            expectError(try await client.join(token: token, name: "second"), .unauthorized, "join token has no uses left")
            #expect(try harness.store.nodes().count == 2)
        }
    }

    @Test func expiredToken() async throws {
        try await Harness.withAPI { harness, client in
            let (_, token) = try await client.createToken(ttl: 60)
            harness.clock.advance(60)
            expectError(try await client.join(token: token, name: "late"), .unauthorized, "join token has expired")
            harness.clock.advance(3600)
            expectError(try await client.join(token: token, name: "later"), .unauthorized, "join token has expired")
            #expect(try harness.store.nodes().count == 1)
            let tokens = try await client.send(.get, "/v1/tokens", bearer: Harness.admin).decode([API.TokenInfo].self)
            #expect(tokens.map(\.state) == [.expired])
        }
    }

    @Test func tokenJustBeforeExpiryWorks() async throws {
        try await Harness.withAPI { harness, client in
            let (_, token) = try await client.createToken(ttl: 60)
            harness.clock.advance(59.5)
            #expect(try await client.join(token: token, name: "just-in-time").status == .created)
        }
    }

    @Test func revokedToken() async throws {
        try await Harness.withAPI { harness, client in
            let (id, token) = try await client.createToken(uses: 5)
            expectError(try await client.send(.delete, "/v1/tokens/\(id)"), .unauthorized)
            #expect(try await client.send(.delete, "/v1/tokens/\(id)", bearer: Harness.admin).status == .noContent)
            expectError(try await client.join(token: token, name: "w"), .unauthorized, "join token was revoked")
            expectError(try await client.send(.delete, "/v1/tokens/nosuchtoken", bearer: Harness.admin), .notFound, "no token with id nosuchtoken")
            #expect(try harness.store.nodes().count == 1)
        }
    }

    @Test func unknownTokenAndWrongSecretLookTheSame() async throws {
        try await Harness.withAPI { harness, client in
            let (id, token) = try await client.createToken(uses: 5)
            let secret = String(token.dropFirst(id.count + 1))
            let wrongSecret = "\(id).\(Secret.random())"
            let unknownID = "ffffffffffff.\(secret)"
            for bad in [wrongSecret, unknownID, "no-dot-at-all", "\(id).", ".\(secret)", "\(id).\(secret).x", ""] {
                expectError(try await client.join(token: bad, name: "w"), .unauthorized, "invalid join token")
            }
            // None of these consumed a use: the real token still works 5 times.
            #expect(try await client.join(token: token, name: "w").status == .created)
        }
    }

    @Test func duplicateNameOrKeyIsAConflictAndUsesNoTokenUse() async throws {
        try await Harness.withAPI { harness, client in
            let (_, token) = try await client.createToken(uses: 2)
            let key = WireGuardKey.generatePrivate().publicKey
            #expect(try await client.join(token: token, name: "dup", key: key).status == .created)
            expectError(try await client.join(token: token, name: "DUP"), .conflict, "a node named DUP is already in the federation")
            expectError(try await client.join(token: token, name: "master"), .conflict, "a node named master is already in the federation")
            expectError(try await client.join(token: token, name: "other", key: key), .conflict, "this WireGuard key is already registered")
            expectError(try await client.join(token: token, name: "other", key: harness.masterKey), .conflict, "this WireGuard key is already registered")
            // The refused joins did not consume the token's second use.
            #expect(try await client.join(token: token, name: "other").status == .created)
        }
    }

    @Test func badNodeName() async throws {
        try await Harness.withAPI { harness, client in
            let (_, token) = try await client.createToken()
            expectError(try await client.join(token: token, name: "bad_name"), .badRequest)
            expectError(try await client.join(token: token, name: ""), .badRequest)
            #expect(try await client.join(token: token, name: "good").status == .created)
        }
    }

    @Test func malformedBodies() async throws {
        try await Harness.withAPI { harness, client in
            for text in ["{not json", "", "[]", #"{"token":"a.b","name":"w"}"#, #"{"token":"a.b","name":"w","publicKey":"not-a-key"}"#] {
                expectError(try await client.send(.post, "/v1/join", body: ByteBuffer(string: text)), .badRequest)
            }
            expectError(try await client.send(.post, "/v1/tokens", bearer: Harness.admin, body: ByteBuffer(string: "{")), .badRequest)
        }
    }

    @Test func oversizedBodies() async throws {
        try await Harness.withAPI { harness, client in
            let big = ByteBuffer(repeating: UInt8(ascii: "x"), count: 100 * 1024)
            expectError(try await client.send(.post, "/v1/join", body: big), .contentTooLarge, "request body over 16384 bytes")
            expectError(try await client.send(.post, "/v1/tokens", bearer: Harness.admin, body: big), .contentTooLarge)
            // The limit is exact: 16384 bytes are read (and refused as JSON), 16385 are not read.
            let atLimit = ByteBuffer(repeating: UInt8(ascii: " "), count: FuseRequestContext.bodyLimit)
            expectError(try await client.send(.post, "/v1/join", body: atLimit), .badRequest)
            let overLimit = ByteBuffer(repeating: UInt8(ascii: " "), count: FuseRequestContext.bodyLimit + 1)
            expectError(try await client.send(.post, "/v1/join", body: overLimit), .contentTooLarge)
        }
    }
}

@Suite struct NodeRouteTests {
    static let nodeRoutes: [(HTTPRequest.Method, String)] = [(.get, "/v1/map"), (.post, "/v1/heartbeat"), (.post, "/v1/leave")]

    @Test func nodeRoutesNeedANodeCredential() async throws {
        try await Harness.withAPI { harness, client in
            let heartbeat = try jsonBody(API.Heartbeat(mapVersion: 1, tunnelUp: true))
            for (method, path) in Self.nodeRoutes {
                let body = path == "/v1/heartbeat" ? heartbeat : nil
                expectError(try await client.send(method, path, body: body), .unauthorized, "a node credential is required")
                for bogus in ["master.x", "nobody.\(Secret.random())", "garbage", "admin:nope", "a.b.c"] {
                    expectError(try await client.send(method, path, bearer: bogus, body: body), .unauthorized, "unknown or revoked credential")
                }
                // "Bearer " with nothing after it (the header value loses its trailing space).
                expectError(try await client.send(method, path, bearer: "", body: body), .unauthorized)
                // The operator is not a node.
                expectError(try await client.send(method, path, bearer: Harness.admin, body: body), .unauthorized, "a node credential is required")
            }
            #expect(try harness.store.nodes().count == 1)
        }
    }

    @Test func nodeCredentialCannotCallOperatorRoutes() async throws {
        try await Harness.withAPI { harness, client in
            let (id, token) = try await client.createToken(uses: 2)
            let joined = try await client.join(token: token, name: "w1").decode(API.JoinResponse.self)
            #expect(try await client.join(token: token, name: "w2").status == .created)
            let credential = joined.credential
            expectError(try await client.send(.post, "/v1/tokens", bearer: credential,
                                              json: API.TokenCreateRequest(domain: "d", ttlSeconds: 60, uses: 1)),
                        .unauthorized, "the operator's credential is required")
            expectError(try await client.send(.get, "/v1/tokens", bearer: credential), .unauthorized)
            expectError(try await client.send(.delete, "/v1/tokens/\(id)", bearer: credential), .unauthorized)
            expectError(try await client.send(.delete, "/v1/nodes/w2", bearer: credential), .unauthorized)
            #expect(try harness.store.tokens().count == 1)
            #expect(try harness.store.tokens().first?.revoked == false)
            #expect(try harness.store.nodes().count == 3)
        }
    }

    @Test func operatorRemovesANode() async throws {
        try await Harness.withAPI { harness, client in
            let (_, token) = try await client.createToken(uses: 2)
            let gone = try await client.join(token: token, name: "gone").decode(API.JoinResponse.self)
            let stays = try await client.join(token: token, name: "stays").decode(API.JoinResponse.self)
            let versionBefore = try harness.store.mapVersion()

            expectError(try await client.send(.delete, "/v1/nodes/gone"), .unauthorized)
            #expect(try await client.send(.delete, "/v1/nodes/gone", bearer: Harness.admin).status == .noContent)

            expectError(try await client.send(.get, "/v1/map", bearer: gone.credential), .unauthorized, "unknown or revoked credential")
            #expect(try await harness.controlPlane.map(for: "gone") == nil)
            #expect(try harness.store.mapVersion() > versionBefore)
            let hubMap = try #require(try await harness.controlPlane.map(for: "master"))
            #expect(hubMap.peers.map(\.name) == ["stays"])
            #expect(try await client.send(.get, "/v1/map", bearer: stays.credential).status == .ok)

            expectError(try await client.send(.delete, "/v1/nodes/ghost", bearer: Harness.admin), .notFound, "no node named ghost")
            expectError(try await client.send(.delete, "/v1/nodes/gone", bearer: Harness.admin), .notFound)
            expectError(try await client.send(.delete, "/v1/nodes/master", bearer: Harness.admin), .badRequest)
            #expect(try harness.store.nodes().map(\.name).sorted() == ["master", "stays"])
        }
    }

    @Test func leaveFreesTheAddress() async throws {
        try await Harness.withAPI { harness, client in
            let (_, token) = try await client.createToken(uses: 3)
            let first = try await client.join(token: token, name: "first").decode(API.JoinResponse.self)
            let second = try await client.join(token: token, name: "second").decode(API.JoinResponse.self)
            #expect(first.map.node.address.description == "10.77.0.2")
            #expect(second.map.node.address.description == "10.77.0.3")
            #expect(try await client.send(.post, "/v1/leave", bearer: first.credential).status == .noContent)
            expectError(try await client.send(.get, "/v1/map", bearer: first.credential), .unauthorized)
            // The lowest free address is handed out again.
            let third = try await client.join(token: token, name: "third").decode(API.JoinResponse.self)
            #expect(third.map.node.address.description == "10.77.0.2")
        }
    }

    @Test func onlineFollowsHeartbeats() async throws {
        try await Harness.withAPI { harness, client in
            let (_, token) = try await client.createToken()
            let joined = try await client.join(token: token, name: "w").decode(API.JoinResponse.self)
            func worker() async throws -> API.NodeInfo? {
                try await client.send(.get, "/v1/nodes", bearer: Harness.admin).decode([API.NodeInfo].self).first { $0.name == "w" }
            }
            #expect(try await worker()?.online == true)
            harness.clock.advance(ControlPlane.onlineWindow + 1)
            #expect(try await worker()?.online == false)
            #expect(try await client.send(.post, "/v1/heartbeat", bearer: joined.credential,
                                          json: API.Heartbeat(mapVersion: joined.map.version, tunnelUp: true)).status == .noContent)
            let info = try #require(try await worker())
            #expect(info.online)
            #expect(info.lastSeen == harness.clock.now)
        }
    }

    @Test func smallRangeIsExhausted() async throws {
        // A /30 has two hosts: the master's and one more.
        try await Harness.withAPI(cidr: "10.99.0.4/30") { harness, client in
            let (_, token) = try await client.createToken(uses: 2)
            let first = try await client.join(token: token, name: "one")
            #expect(try first.decode(API.JoinResponse.self).map.node.address.description == "10.99.0.6")
            expectError(try await client.join(token: token, name: "two"), .serviceUnavailable,
                        "address range 10.99.0.4/30 is exhausted: all 2 host addresses are assigned")
        }
    }

    @Test func aRolledBackJoinGivesItsAddressBack() async throws {
        // A /30 has one address for a worker: a join that took it and then failed (here: no
        // engine subnet fits a /25) must leave it to the next join.
        try await Harness.with(cidr: "10.99.0.4/30") { harness in
            let (id, token) = try harness.token(uses: 2)
            let secret = String(token.dropFirst(id.count + 1))
            let cidr = try IPv4CIDR(parsing: "10.99.0.4/30")
            func join(_ name: String, engineRange: IPv4CIDR?) throws -> NodeRecord {
                try harness.store.join(tokenID: id, secret: secret, name: name, publicKey: WireGuardKey.generatePrivate().publicKey,
                                       credentialDigest: "x", cidr: cidr, engineRange: engineRange, requestID: nil, now: harness.clock.now)
            }
            #expect(throws: JoinRefusal.self) { try join("one", engineRange: try IPv4CIDR(parsing: "10.9.0.0/25")) }
            #expect(try join("two", engineRange: nil).address.description == "10.99.0.6")
        }
    }

    /// The store records what each version changed (the snapshot follows joins and leaves
    /// from it): a join, a removal under another spelling of the name (recorded as stored),
    /// anything else as `.other`; a resumed join and a refused one record nothing.
    @Test func theStoreRecordsWhatEachVersionChanged() async throws {
        try await Harness.with { harness in
            let store = harness.store
            let start = try store.mapVersion()
            let (id, token) = try harness.token(uses: 5)
            let secret = String(token.dropFirst(id.count + 1))
            let key = WireGuardKey.generatePrivate().publicKey
            func join(_ name: String, key: WireGuardKey = WireGuardKey.generatePrivate().publicKey) throws -> NodeRecord {
                try store.join(tokenID: id, secret: secret, name: name, publicKey: key, credentialDigest: "x", cidr: harness.config.cidr,
                               engineRange: nil, requestID: "r-\(name)", now: harness.clock.now)
            }
            let node = try join("Sensor-1", key: key)
            #expect(store.changes(after: start)?.version == start + 1)
            #expect(store.changes(after: start)?.changes == [.joined(node)])
            _ = try join("Sensor-1", key: key)
            #expect(throws: JoinRefusal.self) { _ = try join("sensor-1") }
            #expect(try store.mapVersion() == start + 1, "a resumed or refused join makes no version")
            #expect(try store.removeNode("sensor-1"))
            let camera = Exposure(name: "cam", node: "master", domain: "crisis", proto: .tcp, port: 8080, target: IPv4Address("192.168.1.5")!, targetPort: 80)
            try store.addExposure(camera)
            #expect(!(try store.removeExposure("cam", node: "other")), "not its owner: no version")
            #expect(try store.removeExposure("cam", node: nil))
            _ = try store.setPolicy(#"{"rules": []}"#, now: harness.clock.now)
            #expect(store.changes(after: start)?.changes == [.joined(node), .left("Sensor-1"), .exposed(camera), .unexposed("cam"), .other])
            #expect(store.changes(after: start + 5) == nil, "nothing after the latest")
            let reopened = try SQLiteFederationStore(path: MasterState(stateDir: harness.directory).databasePath)
            #expect(reopened.changes(after: start) == nil, "another process's store knows only its own changes")
        }
    }
}

@Suite struct ConcurrencyTests {
    @Test func concurrentJoinsWithOneSingleUseToken() async throws {
        try await Harness.with { harness in
            let (_, token) = try harness.token(uses: 1)
            let controlPlane = harness.controlPlane
            let results = await withTaskGroup(of: Result<API.JoinResponse, any Error>.self) { group in
                for i in 0..<20 {
                    group.addTask {
                        do {
                            return .success(try await controlPlane.join(API.JoinRequest(token: token, name: "racer-\(i)", publicKey: WireGuardKey.generatePrivate().publicKey)))
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                var all: [Result<API.JoinResponse, any Error>] = []
                for await result in group { all.append(result) }
                return all
            }
            let successes = results.compactMap { try? $0.get() }
            #expect(successes.count == 1)
            for case .failure(let error) in results {
                let apiError = error as? any HTTPResponseError
                #expect(apiError?.status.code == 401, "\(error)")
                #expect(apiError.map { "\($0)" } == "join token has no uses left")
            }
            let nodes = try harness.store.nodes()
            #expect(nodes.count == 2)
            #expect(nodes.filter { !$0.isMaster }.map(\.name) == successes.map(\.map.node.name))
            #expect(try harness.store.tokens().first?.uses == 1)
        }
    }

    @Test func concurrentJoinsGetDistinctAddresses() async throws {
        try await Harness.with { harness in
            let (_, token) = try harness.token(uses: 20)
            let controlPlane = harness.controlPlane
            let addresses = try await withThrowingTaskGroup(of: IPv4Address.self) { group in
                for i in 0..<20 {
                    group.addTask {
                        try await controlPlane.join(API.JoinRequest(token: token, name: "n\(i)", publicKey: WireGuardKey.generatePrivate().publicKey)).map.node.address
                    }
                }
                var all: [IPv4Address] = []
                for try await address in group { all.append(address) }
                return all
            }
            #expect(Set(addresses).count == 20)
            #expect(Set(addresses) == Set((2...21).map { IPv4Address(0x0a4d_0000 + UInt32($0)) }))
            #expect(try harness.store.tokens().first?.uses == 20)
        }
    }
}

@Suite struct LongPollTests {
    @Test func waitingPollReturnsSoonAfterAJoin() async throws {
        try await Harness.withAPI { harness, client in
            let (_, token) = try await client.createToken(uses: 2)
            let joined = try await client.join(token: token, name: "poller").decode(API.JoinResponse.self)
            let current = try harness.store.mapVersion()
            #expect(joined.map.version == current)

            let clock = ContinuousClock()
            let start = clock.now
            let poll = Task {
                let response = try await client.send(.get, "/v1/map?since=\(current)&wait=5", bearer: joined.credential)
                return (response, clock.now)
            }
            try await harness.waitForParkedPoll()
            let joinedAt = clock.now
            let second = try await client.join(token: token, name: "newcomer")
            #expect(second.status == .created)
            let (response, returnedAt) = try await poll.value
            #expect(response.status == .ok)
            let map = try response.decode(NetworkMap.self)
            #expect(map.version > current)
            #expect(map.version == (try harness.store.mapVersion()))
            #expect(returnedAt - start < .seconds(2))
            #expect(returnedAt - joinedAt < .seconds(1))
            // It really waited for the join rather than returning at once.
            #expect(returnedAt >= joinedAt)
        }
    }

    @Test func pollWithoutChangeWaitsThenReturnsTheSameVersion() async throws {
        try await Harness.withAPI { harness, client in
            let (_, token) = try await client.createToken()
            let joined = try await client.join(token: token, name: "poller").decode(API.JoinResponse.self)
            let current = try harness.store.mapVersion()
            let clock = ContinuousClock()
            let start = clock.now
            let response = try await client.send(.get, "/v1/map?since=\(current)&wait=1", bearer: joined.credential)
            let elapsed = clock.now - start
            #expect(response.status == .ok)
            #expect(try response.decode(NetworkMap.self).version == current)
            #expect(elapsed >= .milliseconds(900))
            #expect(elapsed < .seconds(3))

            // An older `since` returns at once.
            let start2 = clock.now
            let immediate = try await client.send(.get, "/v1/map?since=\(current - 1)&wait=30", bearer: joined.credential)
            #expect(immediate.status == .ok)
            #expect(clock.now - start2 < .milliseconds(500))
        }
    }
}

extension LongPollTests {
    @Test func waitingPollOfARemovedNodeEndsWith401() async throws {
        try await Harness.withAPI { harness, client in
            let (_, token) = try await client.createToken()
            let joined = try await client.join(token: token, name: "doomed").decode(API.JoinResponse.self)
            let current = try harness.store.mapVersion()
            let clock = ContinuousClock()
            let start = clock.now
            let poll = Task { try await client.send(.get, "/v1/map?since=\(current)&wait=5", bearer: joined.credential) }
            try await harness.waitForParkedPoll()
            #expect(try await client.send(.delete, "/v1/nodes/doomed", bearer: Harness.admin).status == .noContent)
            let response = try await poll.value
            expectError(response, .unauthorized, "node doomed is not in the federation")
            #expect(clock.now - start < .seconds(2))
        }
    }

    @Test func zeroWaitDoesNotBlock() async throws {
        try await Harness.withAPI { harness, client in
            let (_, token) = try await client.createToken()
            let joined = try await client.join(token: token, name: "w").decode(API.JoinResponse.self)
            let current = try harness.store.mapVersion()
            let clock = ContinuousClock()
            let start = clock.now
            for query in ["since=\(current)&wait=0", "since=\(current)", "since=\(current + 100)&wait=0", ""] {
                let response = try await client.send(.get, "/v1/map?\(query)", bearer: joined.credential)
                #expect(response.status == .ok)
                #expect(try response.decode(NetworkMap.self).version == current)
            }
            // A blocking poll would wait a long-poll period (25 s for agents); 4 answers in well
            // under that, also on a loaded 2-core machine (1 s flaked there under parallel tests).
            #expect(clock.now - start < .seconds(5))
        }
    }
}

@Suite struct MasterStateTests {
    @Test func initializeWritesConsistentFiles() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fuse-master-state-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let state = MasterState(stateDir: directory)
        let draft = MasterConfig(federation: "f", domain: "crisis", nodeName: "m", endpoint: "192.0.2.1", cidr: try IPv4CIDR(parsing: "10.5.0.0/16"),
                                 apiPort: 7443, wireGuardPort: 51820, interface: "fuse0", adminCredentialDigest: "")
        try state.initialize(config: draft, masterPublicKey: WireGuardKey.generatePrivate().publicKey)
        let config = try state.loadConfig()
        let credential = try state.adminCredential()
        #expect(credential.hasPrefix("admin:"))
        #expect(config.adminCredentialDigest == Secret.digest(String(credential.dropFirst(6))))
        for path in [state.caKeyPath, state.serverKeyPath, state.adminCredentialPath, state.configPath] {
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(path)")
        }
        let store = try SQLiteFederationStore(path: state.databasePath)
        #expect(try store.nodes().map(\.address.description) == ["10.5.0.1"])
        #expect(CAPin.of(pem: try state.caPEM()) == (try state.caPin()))
        #expect(throws: MasterStateError.self) {
            try state.initialize(config: draft, masterPublicKey: WireGuardKey.generatePrivate().publicKey)
        }
    }
}
