import Foundation
import FuseModel
import FuseSystem
import NIOCore
import Synchronization

/// The master's answer to relayed workers' UDP probes (`UDPProbe`): a UDP socket on the API's
/// port number, where the hub's nftables table redirects the probes that reach its WireGuard
/// port. Each well-formed probe gets its own 16 bytes back (conntrack makes them come from the
/// WireGuard port); anything else, and probes beyond the budgets (`UDPProbe`: per sender and
/// in all), get nothing.
public final class ProbeResponder: Sendable {
    private let socket: DatagramSocket

    private init(socket: DatagramSocket) { self.socket = socket }

    public static func start(host: String, port: Int) async throws -> ProbeResponder {
        let total = Double(UDPProbe.answersPerSecond), each = Double(UDPProbe.answersPerSecondPerSender)
        let budget = Mutex((all: TokenBucket(capacity: total, perSecond: total, now: Date()),
                            sender: KeyedRateLimit<String>(capacity: 2 * each, perSecond: each)))
        let socket = Mutex<DatagramSocket?>(nil)
        let bound = try await DatagramSocket.bind(host: host, port: port) { datagram, from in
            guard datagram.withUnsafeReadableBytes({ UDPProbe.nonce(of: $0) }) != nil else { return }
            let sender = "\(from)", now = Date()
            let allowed = budget.withLock { budget in
                // The total first: a flood from many (spoofed) senders stops there.
                guard budget.all.allows(at: now), budget.sender.allows(sender, at: now) else { return false }
                budget.all.spend(at: now)
                budget.sender.spend(sender, at: now)
                return true
            }
            if allowed { socket.withLock { $0 }?.send(datagram, to: from) }
        }
        socket.withLock { $0 = bound }
        return ProbeResponder(socket: bound)
    }

    public func stop() async { await socket.close() }
}
