import Foundation
import FuseSystem
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Another process's UDP buffers, enlarged through pidfd_getfd (here: this test process's own).
@Suite struct SocketBuffersTests {
    static func receiveBuffer(_ fd: CInt) -> CInt {
        var value: CInt = 0, length = socklen_t(MemoryLayout<CInt>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, &length)
        return value
    }

    @Test(.enabled(if: getuid() == 0, "SO_RCVBUFFORCE needs root"))
    func aProcesssDatagramSocketsGetTheSizeAndItsOtherDescriptorsAreLeftAlone() throws {
        let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0), tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(udp); close(tcp) }
        try #require(udp >= 0 && tcp >= 0)
        let tcpBefore = Self.receiveBuffer(tcp)
        // Above net.core.rmem_max: only the FORCE option can set it (the kernel doubles what it is given).
        let size: CInt = 9 << 20
        #expect(Self.receiveBuffer(udp) < size)
        #expect(SocketBuffers.enlargeDatagramSockets(of: getpid(), size: size) >= 1)
        #expect(Self.receiveBuffer(udp) == 2 * size)
        #expect(Self.receiveBuffer(tcp) == tcpBefore, "a stream socket is not touched")
    }

    @Test func aProcessThatIsGoneChangesNothing() {
        #expect(SocketBuffers.enlargeDatagramSockets(of: pid_t(Int32.max - 7)) == 0)
    }
}
