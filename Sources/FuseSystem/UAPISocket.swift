import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Talks to a userspace WireGuard device over its UAPI unix socket
/// (`/var/run/wireguard/IFNAME.sock`). Requires root.
public protocol WireGuardControl: Sendable {
    /// Sends one request (`get=1` or `set=1`…) and returns the whole answer.
    func exchange(interface: String, request: String) throws -> String
}

public struct UAPISocket: WireGuardControl {
    public static let directory = "/var/run/wireguard"

    public init() {}

    public static func path(for interface: String) -> String { "\(directory)/\(interface).sock" }

    public func exchange(interface: String, request: String) throws -> String {
        let path = Self.path(for: interface)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw SystemError("socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw SystemError("connect \(path): \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = Array(request.utf8)
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw SystemError("write \(path): \(String(cString: strerror(errno)))") }
            sent += n
        }
        // The answer ends with an empty line ("\n\n") after `errno=N`.
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !(answer.count >= 2 && answer[answer.count - 2] == 10 && answer[answer.count - 1] == 10) {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                if n < 0 { throw SystemError("read \(path): \(String(cString: strerror(errno)))") }
                break
            }
            answer += buffer[0..<n]
        }
        return String(decoding: answer, as: UTF8.self)
    }
}
