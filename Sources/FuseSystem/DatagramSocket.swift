import NIOCore
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A UDP socket whose datagrams go to a callback (NIO reads them; called on its event loop, in
/// order) and that sends with plain `sendto` from the caller's thread: NIO's write path costs
/// several times a syscall per datagram, and the relay sends every datagram of a tunnel. Sends
/// never queue: while the socket's buffer is full, datagrams are dropped (what a router does;
/// WireGuard and the TCP inside it recover).
public final class DatagramSocket: Sendable {
    let channel: any Channel
    /// A duplicate of the socket's descriptor for sending (NIO owns and closes its own); -1 once closed.
    private let sender: Mutex<CInt>

    private init(channel: any Channel, sender: CInt) {
        self.channel = channel
        self.sender = Mutex(sender)
    }

    /// Binds `host:port` (port 0: any free port).
    public static func bind(host: String, port: Int = 0, onReceive: @escaping @Sendable (ByteBuffer, SocketAddress) -> Void) async throws -> DatagramSocket {
        let address = try SocketAddress(ipAddress: host, port: port)
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket(AF_INET, SOCK_DGRAM): errno \(errno)") }
        var size: CInt = 4 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        let bound = address.withSockAddr { Glibc.bind(fd, $0, socklen_t($1)) }
        let copy = dup(fd)
        guard bound == 0, copy >= 0 else {
            let code = errno
            Glibc.close(fd)
            if copy >= 0 { Glibc.close(copy) }
            throw SystemError("bind \(host):\(port): errno \(code)")
        }
        do {
            let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 4096))
                .channelOption(.maxMessagesPerRead, value: 32)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Receiver(onReceive: onReceive)) }
                }
                .withBoundSocket(fd).get()
            return DatagramSocket(channel: channel, sender: copy)
        } catch {
            Glibc.close(copy)
            throw error
        }
    }

    public var localPort: Int? { channel.localAddress?.port }

    /// Sends datagrams to `address`; drops what the socket's buffer cannot take now.
    public func send(_ datagrams: [ByteBuffer], to address: SocketAddress) {
        guard !datagrams.isEmpty else { return }
        address.withSockAddr { target, length in
            sender.withLock { fd in
                guard fd >= 0 else { return }
                for datagram in datagrams {
                    _ = datagram.withUnsafeReadableBytes { bytes in
                        sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), target, socklen_t(length))
                    }
                }
            }
        }
    }

    public func send(_ datagram: ByteBuffer, to address: SocketAddress) { send([datagram], to: address) }

    public func close() async {
        sender.withLock { fd in
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
        try? await channel.close()
    }

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
