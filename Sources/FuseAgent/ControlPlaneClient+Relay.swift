import AsyncHTTPClient
import FuseSystem
import NIOCore

/// The relay stream as one HTTPS request to the master's API port (`POST /v1/relay`): frames
/// go out in the chunked request body while the response body brings the hub's frames back.
extension ControlPlaneClient: RelayTransport {
    public func carry(_ outgoing: RelayOutbox, received: @escaping @Sendable (ByteBuffer) throws -> Void) async throws {
        var request = HTTPClientRequest(url: baseURL + "/v1/relay")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        if let credential { request.headers.add(name: "Authorization", value: "Bearer \(credential)") }
        request.body = .stream(outgoing, length: .unknown)
        // The deadline covers the answer's head only; the stream then lasts as long as both
        // sides keep it (keepalive frames every 20 s, inside the read timeout).
        let response = try await client.execute(request, timeout: .seconds(10))
        guard response.status == .ok else {
            let body = try? await response.body.collect(upTo: 16 * 1024)
            let message = body.flatMap { String(buffer: $0).isEmpty ? nil : String(buffer: $0) } ?? "HTTP \(response.status.code)"
            throw ClientError.api(status: Int(response.status.code), message: message)
        }
        for try await chunk in response.body { try received(chunk) }
    }
}
