import NIOCore
import NIOPosix

/// A UDP socket on NIO whose datagrams go to a callback (called on its event loop, in order).
/// Sends never queue without bound: while the socket's buffer is full, datagrams are dropped
/// (what a router does; WireGuard and the TCP inside it recover).
public final class DatagramSocket: Sendable {
    let channel: any Channel

    private init(channel: any Channel) { self.channel = channel }

    /// Binds `host:port` (port 0: any free port).
    public static func bind(host: String, port: Int = 0, onReceive: @escaping @Sendable (ByteBuffer, SocketAddress) -> Void) async throws -> DatagramSocket {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(.socketOption(.so_sndbuf), value: 4 << 20)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 4096))
            .channelOption(.maxMessagesPerRead, value: 32)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Receiver(onReceive: onReceive)) }
            }
            .bind(host: host, port: port).get()
        return DatagramSocket(channel: channel)
    }

    public var localPort: Int? { channel.localAddress?.port }

    /// Sends datagrams to `address` with one hop to the socket's event loop (and one flush).
    public func send(_ datagrams: [ByteBuffer], to address: SocketAddress) {
        guard !datagrams.isEmpty else { return }
        let channel = self.channel
        channel.eventLoop.execute {
            for datagram in datagrams where channel.isWritable {
                channel.write(AddressedEnvelope(remoteAddress: address, data: datagram), promise: nil)
            }
            channel.flush()
        }
    }

    public func send(_ datagram: ByteBuffer, to address: SocketAddress) { send([datagram], to: address) }

    public func close() async { try? await channel.close() }

    final class Receiver: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let onReceive: @Sendable (ByteBuffer, SocketAddress) -> Void
        init(onReceive: @escaping @Sendable (ByteBuffer, SocketAddress) -> Void) { self.onReceive = onReceive }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            onReceive(envelope.data, envelope.remoteAddress)
        }

        /// ICMP errors (port unreachable while wireguard-go restarts) must not close the socket.
        func errorCaught(context: ChannelHandlerContext, error: any Error) {}
    }
}
