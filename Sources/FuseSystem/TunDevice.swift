import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TUN device (layer 3, no packet-information header) that this process owns: it goes away
/// when the process exits. Requires root (CAP_NET_ADMIN) and /dev/net/tun.
public struct TunDevice: Sendable {
    public let fd: Int32
    public let name: String

    // linux/if_tun.h
    static let setInterface: UInt = 0x4004_54CA  // TUNSETIFF = _IOW('T', 202, int)
    static let tun: Int16 = 0x0001  // IFF_TUN
    static let noPacketInfo: Int16 = 0x1000  // IFF_NO_PI

    /// Creates (or attaches to) the TUN device `name` in the caller's network namespace.
    public static func open(name: String) throws -> TunDevice {
        guard !name.isEmpty, name.utf8.count <= 15 else { throw SystemError("invalid TUN device name '\(name)' (1–15 bytes)") }
        let fd = Glibc.open("/dev/net/tun", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open /dev/net/tun: \(String(cString: strerror(errno)))") }
        // struct ifreq: 16 bytes of name, then the union whose first member is ifr_flags.
        var request = [UInt8](repeating: 0, count: 40)
        for (index, byte) in name.utf8.enumerated() { request[index] = byte }
        withUnsafeBytes(of: tun | noPacketInfo) { flags in
            request[16] = flags[0]
            request[17] = flags[1]
        }
        let rc = request.withUnsafeMutableBytes { buffer in buffer.baseAddress.map { ioctl(fd, setInterface, $0) } ?? -1 }
        guard rc == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw SystemError("TUNSETIFF \(name): \(message)")
        }
        return TunDevice(fd: fd, name: name)
    }

    /// Makes reads return EAGAIN instead of blocking (the forwarder drains batches with poll).
    public func setNonBlocking() throws {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw SystemError("fcntl O_NONBLOCK on \(name): \(String(cString: strerror(errno)))")
        }
    }
}
