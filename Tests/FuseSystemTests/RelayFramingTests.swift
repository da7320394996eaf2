import FuseSystem
import NIOCore
import Testing

/// The relay's framing: datagrams in, the same datagrams out, whatever the chunking; bounds.
@Suite struct RelayFramingTests {
    func frames(_ datagrams: [[UInt8]]) -> ByteBuffer {
        var out = ByteBuffer()
        for datagram in datagrams { RelayFraming.append(ByteBuffer(bytes: datagram), to: &out) }
        return out
    }

    @Test func framesSurviveAnyChunking() throws {
        let datagrams: [[UInt8]] = [[1], Array(repeating: 7, count: 1452), [], [9, 9, 9]]
        let stream = frames(datagrams)
        #expect(stream.readableBytes == 2 + 1 + 2 + 1452 + 2 + 2 + 3)
        for size in [1, 2, 3, 100, 5000] {
            var decoder = RelayFrameDecoder()
            var out: [[UInt8]] = []
            var rest = stream
            while let chunk = rest.readSlice(length: min(size, rest.readableBytes)), chunk.readableBytes > 0 {
                out += try decoder.feed(chunk).map { Array($0.readableBytesView) }
            }
            // The empty frame is a keepalive: not a datagram.
            #expect(out == [[1], Array(repeating: 7, count: 1452), [9, 9, 9]], "chunks of \(size)")
        }
    }

    @Test func anOversizedLengthIsAnError() {
        var decoder = RelayFrameDecoder()
        #expect(throws: RelayFraming.Oversized.self) { try decoder.feed(ByteBuffer(bytes: [0xFF, 0xFF, 1, 2])) }
        var other = RelayFrameDecoder()
        #expect(throws: RelayFraming.Oversized.self) { try other.feed(ByteBuffer(bytes: [0x08, 0x01])) }
        // A datagram over the bound is never framed (it could not be read back).
        var out = ByteBuffer()
        RelayFraming.append(ByteBuffer(bytes: Array(repeating: 0, count: RelayFraming.maxDatagram + 1)), to: &out)
        #expect(out.readableBytes == 0)
    }

    @Test func theOutboxBatchesDropsWhenFullAndEndsWhenClosed() async {
        let outbox = RelayOutbox(limit: 10)
        #expect(outbox.send(ByteBuffer(bytes: [1, 2, 3])))
        #expect(outbox.send(ByteBuffer(bytes: [4, 5])))
        // 5 + 4 bytes queued; 3 more would pass the limit of 10.
        #expect(!outbox.send(ByteBuffer(bytes: [6])))
        #expect(outbox.dropped == 1)
        let chunk = await outbox.next()
        #expect(chunk.map { Array($0.readableBytesView) } == [0, 3, 1, 2, 3, 0, 2, 4, 5])
        outbox.sendKeepalive()
        #expect(await outbox.next().map { Array($0.readableBytesView) } == [0, 0])
        // A waiting writer is woken by a send, then by the close.
        async let woken = outbox.next()
        try? await Task.sleep(for: .milliseconds(50))
        outbox.send(ByteBuffer(bytes: [8]))
        #expect(await woken.map { Array($0.readableBytesView) } == [0, 1, 8])
        async let ended = outbox.next()
        try? await Task.sleep(for: .milliseconds(50))
        outbox.close()
        #expect(await ended == nil)
        #expect(!outbox.send(ByteBuffer(bytes: [1])))
    }
}
