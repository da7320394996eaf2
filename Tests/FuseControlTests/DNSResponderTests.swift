import Foundation
import FuseControl
import FuseModel
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct DNSResponderTests {
    static let camera = IPv4Address(0x6440_0007) // 100.64.0.7

    @Test func answersOverUDPAndStops() async throws {
        let responder = DNSResponder(host: "127.0.0.1", port: 0) { name in
            name == "camera.companya.fuse" ? Self.camera : nil
        }
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let finished = Flag()
        let task = Task {
            defer { finished.set() }
            try await responder.run { portSink.yield($0) }
        }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        #expect(port > 0)
        #expect(responder.boundPort == port)

        let answer = try #require(UDPClient.exchange(DNSMessage.query(name: "Camera.CompanyA.fuse", id: 0x1234), port: port))
        #expect(answer[0] == 0x12 && answer[1] == 0x34)
        let parsed = try #require(DNSMessage.parseAnswer(answer))
        #expect(parsed.rcode == 0)
        #expect(parsed.addresses == [Self.camera])

        // Garbage gets no answer and does not stop the responder.
        #expect(UDPClient.send([1, 2, 3], port: port))
        let missing = try #require(UDPClient.exchange(DNSMessage.query(name: "printer.companya.fuse", id: 0x4321), port: port))
        #expect(DNSMessage.parseAnswer(missing)?.rcode == 3)
        #expect(DNSMessage.parseAnswer(missing)?.addresses == [])

        task.cancel()
        for _ in 0..<100 where !finished.isSet { try await Task.sleep(for: .milliseconds(50)) }
        #expect(finished.isSet, "run() ends when its task is cancelled")
        try await task.value
        #expect(responder.boundPort == nil)
        #expect(UDPClient.canBind(port: port), "the socket is closed")
    }

    @Test func bindFailureThrows() async {
        // 192.0.2.1 (TEST-NET-1) is not an address of this host.
        let responder = DNSResponder(host: "192.0.2.1", port: 0) { _ in nil }
        await #expect(throws: (any Error).self) { try await responder.run() }
    }
}

private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// A plain blocking UDP socket on 127.0.0.1 with a 2 s receive timeout.
private enum UDPClient {
    static func withSocket<T>(_ body: (Int32) -> T) -> T {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        precondition(fd >= 0, "socket() failed")
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return body(fd)
    }

    static func withAddress<T>(port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    static func send(_ bytes: [UInt8], port: Int) -> Bool {
        withSocket { fd in sendTo(fd, bytes, port: port) }
    }

    static func sendTo(_ fd: Int32, _ bytes: [UInt8], port: Int) -> Bool {
        withAddress(port: port) { sendto(fd, bytes, bytes.count, 0, $0, $1) } == bytes.count
    }

    /// Sends `query` and returns the first datagram back, or nil after 2 s.
    static func exchange(_ query: [UInt8], port: Int) -> [UInt8]? {
        withSocket { fd in
            guard sendTo(fd, query, port: port) else { return nil }
            var buffer = [UInt8](repeating: 0, count: 1500)
            let count = recv(fd, &buffer, buffer.count, 0)
            return count > 0 ? Array(buffer[0..<count]) : nil
        }
    }

    static func canBind(port: Int) -> Bool {
        withSocket { fd in withAddress(port: port) { bind(fd, $0, $1) } == 0 }
    }
}
