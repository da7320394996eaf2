import Foundation
import FuseModel
import FuseSystem
import NIOCore
import Synchronization

/// The master's answer to relayed workers' UDP probes (`UDPProbe`): a UDP socket on the API's
/// port number, where the hub's nftables table redirects the probes that reach its WireGuard
/// port. Each well-formed probe gets its own 16 bytes back (conntrack makes them come from the
/// WireGuard port); anything else, and probes beyond `UDPProbe.answersPerSecond`, get nothing.
public final class ProbeResponder: Sendable {
    private let socket: DatagramSocket

    private init(socket: DatagramSocket) { self.socket = socket }

    public static func start(host: String, port: Int) async throws -> ProbeResponder {
        let budget = Mutex(TokenBucket(capacity: Double(UDPProbe.answersPerSecond), perSecond: Double(UDPProbe.answersPerSecond), now: Date()))
        let socket = Mutex<DatagramSocket?>(nil)
        let bound = try await DatagramSocket.bind(host: host, port: port) { datagram, from in
            guard datagram.withUnsafeReadableBytes({ UDPProbe.nonce(of: $0) }) != nil,
                  budget.withLock({ $0.spend(at: Date()) }) else { return }
            socket.withLock { $0 }?.send(datagram, to: from)
        }
        socket.withLock { $0 = bound }
        return ProbeResponder(socket: bound)
    }

    public func stop() async { await socket.close() }
}
