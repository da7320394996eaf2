import Foundation
import NIOCore
import NIOHTTPTypes
import Synchronization

/// What one client can make the control plane hold: a connection must send its first request
/// head within `headerTimeout` (a TLS handshake that never ends, or a header dribbled byte by
/// byte, is cut off); a connection with no request in progress closes after `idleTimeout`
/// (long-polls in progress are not idle); one source address holds at most
/// `maxConnectionsPerSource` connections (many nodes behind one NAT share a source).
public struct ConnectionBounds: Sendable {
    public var headerTimeout: Duration
    public var idleTimeout: Duration
    public var maxConnectionsPerSource: Int

    public init(headerTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(75), maxConnectionsPerSource: Int = 256) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.maxConnectionsPerSource = maxConnectionsPerSource
    }

    /// The defaults, with `FUSE_API_MAX_CONNECTIONS_PER_SOURCE` (for benchmarks that simulate
    /// thousands of nodes from one address).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> ConnectionBounds {
        var bounds = ConnectionBounds()
        if let text = environment["FUSE_API_MAX_CONNECTIONS_PER_SOURCE"], let value = Int(text), value > 0 { bounds.maxConnectionsPerSource = value }
        return bounds
    }
}

/// Open connections per source address, shared by every connection's `SourceLimitHandler`.
final class ConnectionCounter: Sendable {
    private let open = Mutex<[String: Int]>([:])

    /// Counts a new connection; false (and not counted) when the source is at `limit`.
    func admit(_ source: String, limit: Int) -> Bool {
        open.withLock { counts in
            let current = counts[source, default: 0]
            guard current < limit else { return false }
            counts[source] = current + 1
            return true
        }
    }

    func release(_ source: String) {
        open.withLock { counts in
            let remaining = counts[source, default: 1] - 1
            counts[source] = remaining > 0 ? remaining : nil
        }
    }
}

/// Enforces the bounds on one connection: closed at once when its source already holds the
/// maximum number of connections, and closed when it has not sent a complete request head
/// `headerTimeout` after it opened.
final class ConnectionBoundsHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    let counter: ConnectionCounter
    let limit: Int
    let headerTimeout: TimeAmount
    private var source: String?
    private var headerTimer: Scheduled<Void>?
    private var started = false

    init(counter: ConnectionCounter, limit: Int, headerTimeout: Duration) {
        self.counter = counter
        self.limit = limit
        self.headerTimeout = TimeAmount(headerTimeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { begin(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        begin(context)
        context.fireChannelActive()
    }

    private func begin(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        guard counter.admit(address, limit: limit) else {
            context.close(promise: nil)
            return
        }
        source = address
        let channel = context.channel
        headerTimer = context.eventLoop.scheduleTask(in: headerTimeout) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            headerTimer?.cancel()
            headerTimer = nil
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        end()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { end() }

    private func end() {
        headerTimer?.cancel()
        headerTimer = nil
        if let source { counter.release(source) }
        source = nil
    }
}
