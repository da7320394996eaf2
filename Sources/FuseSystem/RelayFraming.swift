import NIOCore
import Synchronization

/// How the relay carries WireGuard datagrams inside one HTTP body stream (node → master in the
/// request, master → node in the response): each datagram as a 2-byte big-endian length and
/// its bytes. Length 0 is a keepalive (it keeps the stream from looking idle); a length over
/// `maxDatagram` is a protocol error that ends the stream.
public enum RelayFraming {
    /// Far above what a WireGuard device with FUSE's MTU (1420) sends (at most 1452 bytes).
    public static let maxDatagram = 2048
    /// How often each side sends a keepalive frame (well inside the API's 75 s idle close and
    /// the client's read timeout).
    public static let keepaliveInterval: Duration = .seconds(20)

    public struct Oversized: Error, CustomStringConvertible, Sendable {
        public let length: Int
        public var description: String { "relay frame of \(length) bytes (at most \(RelayFraming.maxDatagram))" }
    }

    /// Appends one datagram as a frame (nothing for one over `maxDatagram`: it could not be read back).
    public static func append(_ datagram: ByteBuffer, to out: inout ByteBuffer) {
        guard datagram.readableBytes <= maxDatagram else { return }
        out.writeInteger(UInt16(datagram.readableBytes))
        out.writeImmutableBuffer(datagram)
    }

}

/// Reassembles frames from the chunks of a body stream (chunk boundaries are not frame
/// boundaries). Holds at most one incomplete frame.
public struct RelayFrameDecoder: Sendable {
    private var pending = ByteBuffer()

    public init() {}

    /// The datagrams completed by `chunk` (keepalives left out); throws `Oversized` on a length
    /// over the bound, after which the stream must end.
    public mutating func feed(_ chunk: ByteBuffer) throws -> [ByteBuffer] {
        if pending.readableBytes == 0 { pending = chunk } else { pending.writeImmutableBuffer(chunk) }
        var datagrams: [ByteBuffer] = []
        while let length = pending.getInteger(at: pending.readerIndex, as: UInt16.self).map(Int.init) {
            guard length <= RelayFraming.maxDatagram else { throw RelayFraming.Oversized(length: length) }
            guard pending.readableBytes >= 2 + length else { break }
            pending.moveReaderIndex(forwardBy: 2)
            if length > 0, let datagram = pending.readSlice(length: length) { datagrams.append(datagram) }
        }
        if pending.readableBytes == 0 { pending = ByteBuffer() } else if pending.readerIndex > 64 * 1024 { pending.discardReadBytes() }
        return datagrams
    }
}

/// Frames waiting to go out on one relay stream, taken by its writer as one chunk per wake-up
/// (many datagrams per write under load). Bounded: a datagram that does not fit is dropped
/// (WireGuard and TCP inside it recover from loss; a queue without bound would grow latency
/// and memory when the other side is slow).
public final class RelayOutbox: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    /// 256 KiB: about 180 full datagrams, a few milliseconds at the rates seen here.
    public static let defaultLimit = 256 * 1024

    private struct State {
        var pending = ByteBuffer()
        var waiter: CheckedContinuation<ByteBuffer?, Never>?
        var closed = false
        var dropped = 0
        var lastTaken = ContinuousClock.now - .seconds(1)
    }

    /// Under load (the last chunk was taken less than `busyWithin` ago), a writer that finds
    /// less than `coalesceBytes` waits `coalesceDelay` once for more: each chunk becomes a TLS
    /// record and a write, whose cost is per record, not per byte. Sparse traffic (a ping) is
    /// never delayed.
    static let coalesceBytes = 16 * 1024
    static let coalesceDelay: Duration = .microseconds(300)
    static let busyWithin: Duration = .milliseconds(2)

    private let state = Mutex(State())
    let limit: Int

    public init(limit: Int = RelayOutbox.defaultLimit) { self.limit = limit }

    /// Queues one datagram as a frame; false when it was dropped (full or closed).
    @discardableResult
    public func send(_ datagram: ByteBuffer) -> Bool {
        enqueue { pending in
            guard pending.readableBytes + 2 + datagram.readableBytes <= self.limit else { return false }
            RelayFraming.append(datagram, to: &pending)
            return true
        }
    }

    /// Queues a keepalive frame.
    public func sendKeepalive() {
        _ = enqueue { pending in
            pending.writeInteger(UInt16(0))
            return true
        }
    }

    private func enqueue(_ write: (inout ByteBuffer) -> Bool) -> Bool {
        let (accepted, wake) = state.withLock { state -> (Bool, (CheckedContinuation<ByteBuffer?, Never>, ByteBuffer)?) in
            guard !state.closed else { return (false, nil) }
            guard write(&state.pending) else {
                state.dropped += 1
                return (false, nil)
            }
            guard let waiter = state.waiter else { return (true, nil) }
            state.waiter = nil
            let chunk = state.pending
            state.pending = ByteBuffer()
            return (true, (waiter, chunk))
        }
        if let (waiter, chunk) = wake { waiter.resume(returning: chunk) }
        return accepted
    }

    /// Datagrams dropped so far because the outbox was full.
    public var dropped: Int { state.withLock { $0.dropped } }

    /// Ends the sequence (a waiting writer gets nil); later sends are dropped.
    public func close() {
        let waiter = state.withLock { state -> CheckedContinuation<ByteBuffer?, Never>? in
            state.closed = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Everything queued, once there is something; nil once closed.
    public func next() async -> ByteBuffer? {
        let busy = state.withLock { state in
            ContinuousClock.now - state.lastTaken < Self.busyWithin && !state.closed && state.pending.readableBytes < Self.coalesceBytes
        }
        if busy { try? await Task.sleep(for: Self.coalesceDelay) }
        let chunk = await take()
        state.withLock { $0.lastTaken = .now }
        return chunk
    }

    private func take() async -> ByteBuffer? {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> ByteBuffer?? in
                if state.pending.readableBytes > 0 {
                    let chunk = state.pending
                    state.pending = ByteBuffer()
                    return .some(chunk)
                }
                if state.closed { return .some(nil) }
                state.waiter = continuation
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let outbox: RelayOutbox
        public mutating func next() async -> ByteBuffer? { await outbox.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(outbox: self) }
}
