import Foundation
import FuseModel
import FuseSystem
import Logging
import NIOCore
import Synchronization

/// Carries a relay stream to the master: sends `outgoing` (frames) and hands each chunk of
/// the answer to `received` until the stream ends.
public protocol RelayTransport: Sendable {
    func carry(_ outgoing: RelayOutbox, received: @escaping @Sendable (ByteBuffer) throws -> Void) async throws
}

/// A worker's end of the relay: a UDP socket on 127.0.0.1 that becomes the hub's endpoint in
/// the WireGuard device while the path is the relay. Each datagram WireGuard sends there goes
/// over the relay stream (`RelayTransport`: one TLS connection to the master's API port); what
/// comes back goes to WireGuard from the same socket. While relayed it also probes UDP: at most
/// every `probeInterval`, a copy of an outgoing datagram goes straight to the hub from a second
/// socket (WireGuard's replay window drops the duplicate); the hub answers the copy that came
/// first, so once UDP passes, its answers arrive on that socket: `takeDirectAnswer()` turns
/// true and the agent moves the path back to direct. Once direct, nothing reaches WireGuard from
/// this link (it would roam WireGuard's endpoint back to the relay).
public final class RelayLink: Sendable {
    public static let probeInterval: Duration = .milliseconds(500)
    /// How long the stream stays open after the path became direct (answers still on their way).
    static let closeAfterDirect: Duration = .seconds(5)

    private struct State {
        var path: TunnelPath = .direct
        var directSince = ContinuousClock.now
        var hub: SocketAddress?
        var wireGuard: SocketAddress?
        var outbox: RelayOutbox?
        var lastProbe = ContinuousClock.now - .seconds(60)
        var directAnswer = false
    }

    private let state = Mutex(State())
    let transport: any RelayTransport
    let probing: Bool
    let logger: Logger
    private let sockets = Mutex<(local: DatagramSocket, probe: DatagramSocket)?>(nil)

    /// `probing`: false when the relay is forced (`FUSE_PATH=relay`).
    public init(transport: any RelayTransport, probing: Bool, logger: Logger) {
        self.transport = transport
        self.probing = probing
        self.logger = logger
    }

    /// `127.0.0.1:PORT` of the socket WireGuard sends to while relayed (nil before `start`).
    public var localEndpoint: String? { sockets.withLock { $0?.local.localPort }.map { "127.0.0.1:\($0)" } }

    /// Binds the two sockets.
    public func start() async throws {
        let local = try await DatagramSocket.bind(host: "127.0.0.1") { [self] datagram, from in fromWireGuard(datagram, from) }
        let probe = try await DatagramSocket.bind(host: "0.0.0.0") { [self] datagram, from in fromProbe(datagram, from) }
        sockets.withLock { $0 = (local, probe) }
    }

    public func stop() async {
        state.withLock { $0.outbox }?.close()
        guard let (local, probe) = sockets.withLock({ $0 }) else { return }
        await local.close()
        await probe.close()
    }

    /// The hub's UDP address (`IP:port`, from the network map).
    public func setHub(_ endpoint: String?) {
        let address = endpoint.flatMap(Self.socketAddress)
        state.withLock { $0.hub = address }
    }

    public func setPath(_ path: TunnelPath) {
        state.withLock { state in
            if state.path != path, path == .direct { state.directSince = .now }
            state.path = path
            state.directAnswer = false
        }
    }

    /// Whether the hub answered over UDP since the last call (while relayed).
    public func takeDirectAnswer() -> Bool {
        state.withLock { state in
            defer { state.directAnswer = false }
            return state.directAnswer
        }
    }

    private func fromWireGuard(_ datagram: ByteBuffer, _ from: SocketAddress) {
        enum Route { case direct(SocketAddress), relay(RelayOutbox?, probe: SocketAddress?) }
        let route = state.withLock { state -> Route? in
            state.wireGuard = from
            if state.path == .direct { return state.hub.map(Route.direct) }
            var probe: SocketAddress?
            if probing, let hub = state.hub, ContinuousClock.now - state.lastProbe >= Self.probeInterval {
                state.lastProbe = .now
                probe = hub
            }
            return .relay(state.outbox, probe: probe)
        }
        guard let route, let (_, probeSocket) = sockets.withLock({ $0 }) else { return }
        switch route {
        case .direct(let hub): probeSocket.send(datagram, to: hub)
        case .relay(let outbox, let probe):
            outbox?.send(datagram)
            if let probe { probeSocket.send(datagram, to: probe) }
        }
    }

    /// Answers on the probe socket reach WireGuard only while relayed. Once direct, WireGuard
    /// talks to the hub from its own socket; a datagram delivered from this one would roam its
    /// endpoint back here, and under steady traffic it would stay here (its sends come back
    /// through the probe socket, whose answers keep it here).
    private func fromProbe(_ datagram: ByteBuffer, _ from: SocketAddress) {
        let wireGuard = state.withLock { state -> SocketAddress? in
            guard let hub = state.hub, from == hub, state.path == .relay else { return nil }
            state.directAnswer = true
            return state.wireGuard
        }
        guard let wireGuard, let (local, _) = sockets.withLock({ $0 }) else { return }
        local.send(datagram, to: wireGuard)
    }

    /// Once the path is direct, what the relay still brings (sent before the hub roamed) is
    /// dropped: delivered from this socket it would roam WireGuard's endpoint back to the relay,
    /// and under steady traffic the path could flap until the next repair.
    private func fromRelay(_ datagrams: [ByteBuffer]) {
        guard let wireGuard = state.withLock({ $0.path == .relay ? $0.wireGuard : nil }), let (local, _) = sockets.withLock({ $0 }) else { return }
        local.send(datagrams, to: wireGuard)
    }

    /// Keeps a relay stream open while the path is the relay (and `closeAfterDirect` after it
    /// became direct); reconnects after a second when a stream fails. Runs until cancelled.
    public func run() async throws {
        var failures = 0
        while !Task.isCancelled {
            guard state.withLock({ $0.path == .relay }) else {
                try await Task.sleep(for: .milliseconds(100))
                continue
            }
            let outbox = RelayOutbox()
            state.withLock { $0.outbox = outbox }
            do {
                try await carry(outbox)
                failures = 0
            } catch is CancellationError {
                outbox.close()
                return
            } catch {
                failures += 1
                if failures == 1 || failures % 30 == 0 { logger.warning("relay stream failed", metadata: ["error": "\(error)", "failures": "\(failures)"]) }
            }
            outbox.close()
            state.withLock { if $0.outbox === outbox { $0.outbox = nil } }
            try await Task.sleep(for: failures > 0 ? .seconds(1) : .milliseconds(100))
        }
    }

    private func carry(_ outbox: RelayOutbox) async throws {
        logger.info("relay stream opening")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                let decoder = Mutex(RelayFrameDecoder())
                try await self.transport.carry(outbox) { chunk in
                    self.fromRelay(try decoder.withLock { try $0.feed(chunk) })
                }
            }
            group.addTask {
                // Keepalives, and the end of the stream once the path has been direct for a while.
                var ticks = 0
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(1))
                    ticks += 1
                    if ticks % 20 == 0 { outbox.sendKeepalive() }
                    let done = self.state.withLock { $0.path == .direct && ContinuousClock.now - $0.directSince >= Self.closeAfterDirect }
                    if done { outbox.close() }
                }
            }
            try await group.next()
            group.cancelAll()
        }
        logger.info("relay stream closed")
    }

    /// `IP:port` as a socket address.
    static func socketAddress(_ endpoint: String) -> SocketAddress? {
        guard let colon = endpoint.lastIndex(of: ":"), let port = Int(endpoint[endpoint.index(after: colon)...]) else { return nil }
        return try? SocketAddress(ipAddress: String(endpoint[..<colon]), port: port)
    }
}
