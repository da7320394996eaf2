import Foundation
import FuseAgent
import Testing

/// How the control plane's client tells failures apart: by type and status, never by the text.
struct ControlPlaneClientErrorTests {
    /// A loopback port on which nothing listens (bound once, then closed).
    static func closedPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(bound, "cannot bind a loopback port")
        return UInt16(bigEndian: address.sin_port)
    }

    @Test func aPortWithoutListenerIsRefusedNotUnreachable() async throws {
        let client = try ControlPlaneClient(host: "127.0.0.1", port: try Self.closedPort(), caPEM: nil, connectTimeout: .seconds(1))
        var failure: (any Error)?
        do { _ = try await client.health(timeout: .seconds(2)) } catch { failure = error }
        await client.shutdown()
        guard case ClientError.refused(let message)? = failure else {
            Issue.record("expected a refused connection, got \(String(describing: failure))")
            return
        }
        #expect(message.hasSuffix("connection refused"), "\(message)")
    }
}
