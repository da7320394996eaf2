import AsyncHTTPClient
import Foundation
import FuseModel
import NIOCore

/// The node's engine's own HTTP API on its unix socket, for the one call whose argument is a
/// secret: the Swarm join token goes in a request body, never on a command line (where every
/// local user could read it in the process list).
enum EngineAPI {
    struct JoinRequest: Encodable {
        let ListenAddr: String
        let AdvertiseAddr: String
        let DataPathAddr: String
        let RemoteAddrs: [String]
        let JoinToken: String
    }

    struct Failure: Decodable { let message: String }

    static func joinSwarm(socket: String, join: SwarmJoin, address: IPv4Address) async throws {
        guard let url = URL(httpURLWithSocketPath: socket, uri: "/v1.41/swarm/join") else {
            throw ClientError.unreachable("bad engine socket path \(socket)")
        }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        // The URL's host is the socket path, which Go's HTTP server refuses as a Host header.
        request.headers.replaceOrAdd(name: "Host", value: "docker")
        let body = JoinRequest(ListenAddr: "\(address):\(SwarmPorts.manager)", AdvertiseAddr: address.description,
                               DataPathAddr: address.description, RemoteAddrs: [join.manager], JoinToken: join.token)
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        let response: HTTPClientResponse
        let data: ByteBuffer
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            data = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw ClientError.unreachable("cannot reach the node's engine at \(socket): \(error)")
        }
        guard response.status == .ok else {
            let text = String(decoding: data.readableBytesView, as: UTF8.self)
            let message = (try? JSONDecoder().decode(Failure.self, from: Data(text.utf8)))?.message
                ?? "HTTP \(response.status.code) \(text.split(separator: "\n").first ?? "")"
            throw ClientError.api(status: Int(response.status.code), message: "joining the Swarm: \(message)")
        }
    }
}
