import Foundation
import FuseControl
import FuseModel
import Hummingbird
import HummingbirdTesting
import Testing

/// A node that crashed (or lost the answer) after the master registered it sends the same
/// request again and completes the same enrolment, instead of being refused as a used token.
@Suite struct ResumableJoinTests {
    @Test func theSameRequestCompletesTheSameEnrolment() async throws {
        try await Harness.withAPI { harness, client in
            let (_, token) = try await client.createToken(domain: "companyA")
            let key = WireGuardKey.generatePrivate().publicKey
            let request = API.JoinRequest(token: token, name: "a1", publicKey: key, workloads: nil, requestID: "req-1")
            let first = try await client.send(.post, "/v1/join", json: request)
            #expect(first.status == .created)
            let enrolled = try first.decode(API.JoinResponse.self)

            let again = try await client.send(.post, "/v1/join", json: request)
            #expect(again.status == .created, "\(again.text)")
            let resumed = try again.decode(API.JoinResponse.self)
            #expect(resumed.map.node == enrolled.map.node, "same node, same address")
            #expect(resumed.credential != enrolled.credential, "a new credential")
            #expect(try await client.send(.get, "/v1/map", bearer: resumed.credential).status == .ok)
            expectError(try await client.send(.get, "/v1/map", bearer: enrolled.credential), .unauthorized)
            #expect(try harness.store.nodes().filter { $0.name == "a1" }.count == 1)
            #expect(try harness.store.tokens().first?.uses == 1, "the token was used once")

            // Anything else is a new request on a used token.
            for other in [
                API.JoinRequest(token: token, name: "a1", publicKey: key, workloads: nil, requestID: "req-2"),
                API.JoinRequest(token: token, name: "a1", publicKey: WireGuardKey.generatePrivate().publicKey, workloads: nil, requestID: "req-1"),
                API.JoinRequest(token: token, name: "a1", publicKey: key, workloads: nil, requestID: nil),
                API.JoinRequest(token: token, name: "a2", publicKey: key, workloads: nil, requestID: "req-1"),
            ] {
                expectError(try await client.send(.post, "/v1/join", json: other), .unauthorized, "join token has no uses left")
            }
            // Nor does the request id work with another token's secret.
            let (_, second) = try await client.createToken(domain: "companyA")
            let wrongSecret = second.split(separator: ".")[0] + ".nottheright"
            expectError(try await client.send(.post, "/v1/join", json: API.JoinRequest(token: String(wrongSecret), name: "a1", publicKey: key, requestID: "req-1")),
                        .unauthorized)
        }
    }
}
