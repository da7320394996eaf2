import FuseModel
import NIOCore
import NIOPosix
import Synchronization

/// A small UDP DNS responder for `NAME.DOMAIN.fuse` names, bound to one address (the master's
/// VPN address in production). Each datagram gets the answer of `DNSMessage.respond`; datagrams
/// that get none (no readable header, responses) are dropped, and errors never stop it.
///
/// `resolve` runs on a NIO event loop for every query: it must be quick and must not block
/// (answer from memory, e.g. from the latest network map).
public final class DNSResponder: Sendable {
    public let host: String
    public let port: Int
    let resolve: @Sendable (String) -> IPv4Address?
    private let bound = Mutex<Int?>(nil)

    public init(host: String, port: Int = 53, resolve: @escaping @Sendable (String) -> IPv4Address?) {
        self.host = host
        self.port = port
        self.resolve = resolve
    }

    /// The port the responder is bound to while it runs (useful with port 0), else nil.
    public var boundPort: Int? { bound.withLock { $0 } }

    /// Binds, calls `onBound` with the bound port, serves until the task is cancelled, then
    /// closes the socket and returns. Throws if it cannot bind.
    public func run(onBound: (@Sendable (Int) -> Void)? = nil) async throws {
        let resolve = self.resolve
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DNSHandler(resolve: resolve))
                }
            }
            .bind(host: host, port: port).get()
        let port = channel.localAddress?.port ?? port
        bound.withLock { $0 = port }
        defer { bound.withLock { $0 = nil } }
        onBound?(port)
        await withTaskCancellationHandler {
            try? await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }
}

private final class DNSHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let resolve: @Sendable (String) -> IPv4Address?
    init(resolve: @escaping @Sendable (String) -> IPv4Address?) { self.resolve = resolve }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let reply = DNSMessage.respond(to: Array(envelope.data.readableBytesView), resolve: resolve) else { return }
        let buffer = context.channel.allocator.buffer(bytes: reply)
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: buffer)), promise: nil)
    }

    /// A UDP server keeps serving whatever a peer does (e.g. ICMP port unreachable on a reply).
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}
