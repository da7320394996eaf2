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
/// comes back goes to WireGuard from the same socket. While relayed it also probes UDP
/// (`UDPProbe`, from a second socket, at most every `UDPProbe.interval`, whether or not the
/// tunnel carries traffic): once the hub's answer arrives, `takeDirectAnswer()` turns true and
/// the agent moves the path back to direct. Once direct, nothing reaches WireGuard from this
/// link (it would roam WireGuard's endpoint back to the relay).
public final class RelayLink: Sendable {
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
    /// The nonce of this link's probes: an answer that carries another is not the hub's.
    private let nonce = UInt64.random(in: .min ... .max)

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

    /// On a change to the relay, what WireGuard sends at once (the fresh session's handshake)
    /// waits in the stream's outbox while the stream opens, instead of being dropped.
    public func setPath(_ path: TunnelPath) {
        state.withLock { state in
            if state.path != path, path == .direct { state.directSince = .now }
            if path == .relay, state.outbox == nil { state.outbox = RelayOutbox() }
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

    /// While relayed, over the relay stream. Once direct, WireGuard sends to the hub itself;
    /// what still comes here (sent before its endpoint changed) is dropped: WireGuard resends.
    private func fromWireGuard(_ datagram: ByteBuffer, _ from: SocketAddress) {
        let outbox = state.withLock { state -> RelayOutbox? in
            state.wireGuard = from
            return state.path == .relay ? state.outbox : nil
        }
        outbox?.send(datagram)
    }

    /// Sends a probe to the hub's UDP port when one is due (while relayed and probing).
    public func probeIfDue() {
        let hub = state.withLock { state -> SocketAddress? in
            guard probing, state.path == .relay, let hub = state.hub, ContinuousClock.now - state.lastProbe >= UDPProbe.interval else { return nil }
            state.lastProbe = .now
            return hub
        }
        guard let hub, let (_, probe) = sockets.withLock({ $0 }) else { return }
        probe.send(ByteBuffer(bytes: UDPProbe.datagram(nonce: nonce)), to: hub)
    }

    /// The hub's answer to a probe: UDP passes both ways.
    private func fromProbe(_ datagram: ByteBuffer, _ from: SocketAddress) {
        guard datagram.withUnsafeReadableBytes({ UDPProbe.nonce(of: $0) }) == nonce else { return }
        state.withLock { state in
            if let hub = state.hub, from == hub, state.path == .relay { state.directAnswer = true }
        }
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
            let next = state.withLock { state -> RelayOutbox? in
                guard state.path == .relay else { return nil }
                if state.outbox == nil { state.outbox = RelayOutbox() }
                return state.outbox
            }
            guard let outbox = next else {
                try await Task.sleep(for: .milliseconds(100))
                continue
            }
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
