import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Enlarges the UDP socket buffers of a process FUSE started. wireguard-go 0.0.20220316
/// (Debian 12's) leaves its sockets at the kernel's default (208 KiB), which the relay's bursts
/// overflow: the hub's socket dropped ~4,800 datagrams in 20 s of relayed TCP, and the
/// receiving worker's socket then dropped more as the hub forwarded the bursts; later
/// wireguard-go versions set 7 MiB themselves. Through `pidfd_getfd` (Linux 5.6, glibc 2.36,
/// root): the duplicate descriptor is the same socket, so the setting is the daemon's own.
public enum SocketBuffers {
    public static let size: CInt = 7 << 20

    private typealias PidfdOpen = @convention(c) (pid_t, CUnsignedInt) -> CInt
    private typealias PidfdGetfd = @convention(c) (CInt, CInt, CUnsignedInt) -> CInt
    /// glibc's wrappers, looked up at run time (older C libraries have none: nothing is changed).
    private static let calls: (open: PidfdOpen, getfd: PidfdGetfd)? = {
        guard let libc = dlopen(nil, RTLD_NOW), let open = dlsym(libc, "pidfd_open"), let getfd = dlsym(libc, "pidfd_getfd") else { return nil }
        return (unsafeBitCast(open, to: PidfdOpen.self), unsafeBitCast(getfd, to: PidfdGetfd.self))
    }()

    /// Sets the receive and send buffers of every datagram socket of `pid` to `size`
    /// bytes; returns how many sockets it changed (0 when it cannot: no pidfd, not root).
    @discardableResult
    public static func enlargeDatagramSockets(of pid: pid_t, size: CInt = size) -> Int {
        guard let calls else { return 0 }
        let pidfd = calls.open(pid, 0)
        guard pidfd >= 0 else { return 0 }
        defer { close(pidfd) }
        let directory = "/proc/\(pid)/fd"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var changed = 0
        for entry in entries {
            guard let target = CInt(entry), (try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + entry))?.hasPrefix("socket:") == true else { continue }
            let socket = calls.getfd(pidfd, target, 0)
            guard socket >= 0 else { continue }
            defer { close(socket) }
            var type: CInt = 0, length = socklen_t(MemoryLayout<CInt>.size)
            guard getsockopt(socket, SOL_SOCKET, SO_TYPE, &type, &length) == 0, type == CInt(SOCK_DGRAM.rawValue) else { continue }
            var value = size
            let receive = setsockopt(socket, SOL_SOCKET, SO_RCVBUFFORCE, &value, socklen_t(MemoryLayout<CInt>.size))
            let send = setsockopt(socket, SOL_SOCKET, SO_SNDBUFFORCE, &value, socklen_t(MemoryLayout<CInt>.size))
            if receive == 0, send == 0 { changed += 1 }
        }
        return changed
    }
}
