import Foundation
import FuseAgent
import FuseControl
import FuseModel
import FuseSystem
import NIOHTTP1
import Testing

/// The life of a federation with the real agent and the real control plane in one process; the
/// hosts are recorded. The lab tests (FuseLabTests) cover the same on real hosts.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct FederationInProcessTests {
    /// ICMP from a1 to b1, allowed by the policy.
    static let a1PingsB1 = #"{"rules":[{"name":"a1 pings b1","from":["node:a1"],"to":["node:b1"],"proto":"icmp"}]}"#

    @Test func joinPolicyRevocationAndLeave() async throws {
        try await InProcessFederation.with { federation in
            let a1 = federation.node("a1"), b1 = federation.node("b1")
            try await a1.startDaemon()
            let joinedA1 = try await a1.join(try await federation.joinString(domain: "companyA"))
            #expect(joinedA1.domain == "companyA")
            try await b1.startDaemon()
            let joinedB1 = try await b1.join(try await federation.joinString(domain: "companyB"))

            // Each worker's host: its address in the range, one peer (the hub) that carries the range.
            let a1Plan = try #require(await a1.plan)
            #expect(a1Plan.address == "\(joinedA1.address)/16")
            #expect(a1Plan.device.peers.count == 1)
            #expect(a1Plan.device.peers.first?.allowedIPs.map(\.description) == ["10.99.0.0/16"])
            #expect(a1Plan.forwarding == nil, "a worker without exposures or workloads forwards nothing")
            // The hub: a /32 peer per node, forwarding on.
            let hubSeesBoth = await waitFor(.seconds(5)) {
                let peers = await federation.hub.interfaces["fuse-it0"]?.plan.device.peers.flatMap(\.allowedIPs).map(\.description) ?? []
                return Set(peers) == ["\(joinedA1.address)/32", "\(joinedB1.address)/32"]
            }
            #expect(hubSeesBoth)
            #expect(await federation.hub.interfaces["fuse-it0"]?.plan.forwarding == .hub)

            // A policy change reaches both nodes' tables (and nothing else needs a restart).
            let a1Source = "ip saddr \(joinedA1.address) icmp type echo-request accept"
            #expect(await b1.plan?.ruleset.inlined.contains(a1Source) == false, "denied before the policy")
            try await federation.setPolicy(Self.a1PingsB1)
            #expect(await b1.waitForPlan { $0.ruleset.inlined.contains(a1Source) }, "b1 lets a1's pings in")
            let nodes = try await federation.nodes()
            #expect(Set(nodes.map(\.name)) == ["master", "a1", "b1"])

            // Revocation: the operator removes b1; its daemon removes everything and ends.
            try await federation.operatorClient { _ = try await $0.raw("DELETE", "/v1/nodes/b1", body: nil, timeout: .seconds(10)) }
            #expect(await waitFor(.seconds(10)) { await b1.host.isEmpty }, "b1's host holds nothing of FUSE")
            #expect(await b1.daemonEnds(), "b1's daemon ends after its removal")
            #expect(!FileManager.default.fileExists(atPath: b1.state.directory), "b1's files are gone")

            // Leave: a1 deregisters, its host and files are clean, the hub drops its peer.
            let left = try await a1.leave()
            #expect(left.deregistered)
            #expect(await a1.host.isEmpty)
            #expect(await a1.daemonEnds())
            #expect(!FileManager.default.fileExists(atPath: a1.state.directory))
            #expect(await waitFor(.seconds(5)) { await federation.hub.interfaces["fuse-it0"]?.plan.device.peers.isEmpty == true })
            #expect(try await federation.nodes().map(\.name) == ["master"])
        }
    }

    @Test func restartsOfTheControlPlaneAndTheAgent() async throws {
        try await InProcessFederation.with { federation in
            var a1 = federation.node("a1")
            try await a1.startDaemon()
            let joined = try await a1.join(try await federation.joinString(domain: "companyA"))
            let before = try #require(await a1.plan)

            #expect(await a1.host.restartedSessions.isEmpty, "a join starts no second session")

            // The control plane goes away; the node reboots meanwhile: its daemon brings the host
            // back from the cached map, without the master.
            await federation.stopMaster()
            a1 = await a1.rebooted()
            #expect(await a1.host.isEmpty)
            try await a1.startDaemon()
            #expect(await a1.waitForPlan { $0 == before }, "the cached map is applied while the master is down")
            let status = try await a1.client.status()
            #expect(!status.masterReachable)

            // The control plane comes back: the node reconnects by itself (same address, no
            // re-join), and a change made now reaches it.
            try await federation.startMaster()
            let b1 = federation.node("b1")
            try await b1.startDaemon()
            let joinedB1 = try await b1.join(try await federation.joinString(domain: "companyB"))
            try await federation.setPolicy(#"{"rules":[{"from":["node:b1"],"to":["node:a1"],"proto":"icmp"}]}"#)
            #expect(await a1.waitForPlan { $0.ruleset.inlined.contains("ip saddr \(joinedB1.address) icmp type echo-request accept") },
                    "a change after the restart reaches a1")
            #expect(await a1.plan?.address == "\(joined.address)/16")
            #expect(await waitFor(.seconds(5)) { (try? await a1.client.status().masterReachable) == true })
            #expect(try await federation.nodes().filter { $0.name == "a1" }.count == 1, "nothing duplicated in the store")

            _ = try await a1.leave()
            _ = try await b1.leave()
            #expect(await a1.host.isEmpty)
            #expect(await b1.host.isEmpty)
        }
    }

    @Test func aJoinThatCannotTakeItsInterfaceChangesNothing() async throws {
        try await InProcessFederation.with { federation in
            let busy = federation.node("a1", host: RecordingHostPlane(foreignInterfaces: ["fuse-a1"]))
            try await busy.startDaemon()
            let join = try await federation.joinString(domain: "companyA")
            await #expect {
                _ = try await busy.join(join)
            } throws: { error in
                (error as? ClientError)?.status == 409 && "\(error)".contains("interface fuse-a1 already exists")
            }
            #expect(await busy.host.isEmpty)
            #expect(try await federation.nodes().map(\.name) == ["master"], "the master enrolled nothing")
            #expect(!busy.state.exists)
        }
    }

    @Test func anExposureOfTheNodesLANReachesItsTableAndABadTargetChangesNothing() async throws {
        try await InProcessFederation.with { federation in
            let lan = try IPv4CIDR(parsing: "192.168.10.0/24")
            let a1 = federation.node("a1", host: RecordingHostPlane(lan: [LocalAddress(link: "eth0", address: IPv4Address("192.168.10.2")!, subnet: lan)]))
            try await a1.startDaemon()
            _ = try await a1.join(try await federation.joinString(domain: "companyA"))

            // A target outside every LAN of the host: one line, nothing stored, the table as it was.
            let before = try #require(await a1.plan)
            await #expect {
                let _: Exposure = try await a1.client.call(.POST, "/exposures", body: API.ExposeRequest(
                    name: "camera", proto: .tcp, port: 8554, target: IPv4Address("10.20.30.40")!, targetPort: 554))
            } throws: { error in
                (error as? ClientError)?.status == 400 && !"\(error)".contains("\n")
            }
            let services: [API.ServiceInfo] = try await federation.operatorClient { try await $0.call("GET", "/v1/services") }
            #expect(services.isEmpty)
            #expect(await a1.plan == before)

            // The camera on the LAN: by default the master's domain reaches it, so a1 forwards and
            // translates the exposure's port to the camera.
            let exposure: Exposure = try await a1.client.call(.POST, "/exposures", body: API.ExposeRequest(
                name: "camera", proto: .tcp, port: 8554, target: IPv4Address("192.168.10.11")!, targetPort: 554))
            #expect(exposure.node == "a1")
            #expect(await a1.waitForPlan { $0.forwarding == .exposures && $0.ruleset.text.contains("dnat ip to 192.168.10.11:554") })

            // Withdrawn: gone from the table within the next map.
            try await a1.client.delete("/exposures/camera")
            #expect(await a1.waitForPlan { $0.forwarding == nil && !$0.ruleset.text.contains("192.168.10.11") })
            _ = try await a1.leave()
            #expect(await a1.host.isEmpty)
        }
    }

    @Test func aNewEndpointReachesTheNodesAndTheyFollowItWithoutRejoining() async throws {
        try await InProcessFederation.with { federation in
            let a1 = federation.node("a1")
            try await a1.startDaemon()
            let joined = try await a1.join(try await federation.joinString(domain: "companyA"))
            let credential = try a1.state.loadConfig().credential
            let version = try #require(a1.state.cachedMap()?.version)
            @Sendable func setEndpoint(_ endpoint: String) async throws -> API.EndpointInfo {
                try await federation.operatorClient { try await $0.call("PUT", "/v1/settings/endpoint", body: API.EndpointBody(endpoint: endpoint)) }
            }

            // Bad endpoints: one line each, and nothing changes.
            for bad in ["10.0.0.1:7443", "", "two words", "fe80::1", String(repeating: "a", count: 300)] {
                do {
                    _ = try await setEndpoint(bad)
                    Issue.record("accepted the endpoint \(bad)")
                } catch let error as ClientError {
                    #expect(error.status == 400, "\(error)")
                    #expect(!error.description.contains("\n"))
                }
            }
            #expect(try federation.master.loadConfig().endpoint == "127.0.0.1")
            #expect(a1.state.cachedMap()?.version == version, "no map was pushed")

            // `localhost`: the same master under another name, so that a1 can follow and still reach it.
            let info = try await setEndpoint("localhost")
            #expect(info.endpoint == "localhost" && info.previous == "127.0.0.1" && info.mapVersion > version)
            #expect(try federation.master.loadConfig().endpoint == "localhost", "stored in the master's settings")
            #expect(await waitFor(.seconds(10)) { a1.state.cachedMap()?.masterEndpointHost == "localhost" }, "pushed in a1's map")
            #expect(await waitFor(.seconds(10)) { (try? a1.state.loadConfig().masterHost) == "localhost" }, "a1 looks for the master there")
            #expect(try a1.state.loadConfig().credential == credential, "no re-join: the same credential")
            #expect(try JoinString(parsing: try await federation.joinString(domain: "companyB")).host == "localhost", "new join strings name it")
            // a1 hears the master at the new endpoint: a change made now reaches it.
            try await federation.setPolicy(#"{"rules":[{"from":["node:master"],"to":["node:a1"],"proto":"icmp"}]}"#)
            #expect(await a1.waitForPlan { $0.ruleset.text.contains("icmp type echo-request accept") }, "a policy change reaches a1 through the new endpoint")
            #expect(await waitFor(.seconds(5)) { (try? await a1.client.status().masterReachable) == true })
            #expect(try await setEndpoint("localhost").mapVersion == (try await setEndpoint("localhost").mapVersion), "the same endpoint again changes nothing")
            #expect(try await federation.nodes().map(\.name).sorted() == ["a1", "master"])
            #expect(try await federation.nodes().first { $0.name == "a1" }?.address.description == joined.address.split(separator: "/").first.map(String.init))

            _ = try await a1.leave()
            #expect(await a1.host.isEmpty)
        }
    }
}
