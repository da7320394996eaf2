import Foundation
import FuseModel
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// ICMP echoes to many addresses from one raw socket (root), instead of one `ping` process
/// each: the dashboard's round to 2,000 nodes was 2,000 processes every 5 s, 16 at a time.
public enum Pinger {
    /// The round trip in milliseconds to each address that answered within `timeout`; empty
    /// when no raw socket can be opened (not root). Blocks its thread for up to `timeout`.
    public static func roundTrips(to targets: [IPv4Address], timeout: Duration) -> [IPv4Address: Double] {
        let addresses = Array(Set(targets))
        guard !addresses.isEmpty else { return [:] }
        let fd = socket(AF_INET, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_ICMP))
        guard fd >= 0 else { return [:] }
        defer { close(fd) }
        // One identifier per round: a raw socket reads every echo reply on the host.
        let identifier = UInt16.random(in: 1...UInt16.max)
        let clock = ContinuousClock(), deadline = clock.now + timeout
        var sent: [UInt16: (address: IPv4Address, at: ContinuousClock.Instant)] = [:]
        var answered: [IPv4Address: Double] = [:]
        var next = 0
        while clock.now < deadline, answered.count < addresses.count {
            // A few requests at a time between reads: a burst of 2,000 would overflow the
            // tunnel's queues and lose answers.
            let batchEnd = min(next + 32, addresses.count)
            while next < batchEnd {
                let sequence = UInt16(truncatingIfNeeded: next)
                if send(ICMPEcho.request(identifier: identifier, sequence: sequence), to: addresses[next], fd: fd) {
                    sent[sequence] = (addresses[next], clock.now)
                }
                next += 1
            }
            // 1 ms while requests remain to be sent, else until the deadline.
            let wait: Int32 = next < addresses.count ? 1 : max(1, Int32(((deadline - clock.now) / .milliseconds(1)).rounded(.up)))
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, wait) >= 0 || errno == EINTR else { break }
            while let packet = receive(fd) {
                guard let reply = ICMPEcho.reply(inIPv4Packet: packet), reply.identifier == identifier,
                      let request = sent[reply.sequence], request.address == reply.source, answered[request.address] == nil else { continue }
                answered[request.address] = (clock.now - request.at) / .milliseconds(1)
            }
            if next >= addresses.count, sent.isEmpty { break }
        }
        return answered
    }

    private static func send(_ message: [UInt8], to address: IPv4Address, fd: Int32) -> Bool {
        guard let target = try? SocketAddress(ipAddress: address.description, port: 0) else { return false }
        return message.withUnsafeBytes { bytes in
            target.withSockAddr { sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), $0, socklen_t($1)) }
        } == message.count
    }

    /// One packet, without waiting; nil when none is queued.
    private static func receive(_ fd: Int32) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 1500)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        return count > 0 ? Array(buffer.prefix(count)) : nil
    }
}
