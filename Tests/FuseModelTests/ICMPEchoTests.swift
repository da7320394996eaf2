import FuseModel
import Testing

@Suite struct ICMPEchoTests {
    /// What a raw socket reads for `message` from `source`: a 20-byte IPv4 header first.
    static func ipv4(_ message: [UInt8], from source: [UInt8]) -> [UInt8] {
        [0x45, 0, 0, UInt8(20 + message.count), 0, 0, 0, 0, 64, 1, 0, 0] + source + [10, 99, 0, 1] + message
    }

    static func reply(to request: [UInt8]) -> [UInt8] {
        var reply = request
        reply[0] = 0
        reply[2] = 0
        reply[3] = 0
        let sum = ICMPEcho.checksum(reply)
        reply[2] = UInt8(sum >> 8)
        reply[3] = UInt8(sum & 0xff)
        return reply
    }

    @Test func aRequestCarriesItsIdentifierSequenceAndAValidChecksum() {
        let request = ICMPEcho.request(identifier: 0xBEEF, sequence: 513, payload: [1, 2, 3])
        #expect(Array(request.prefix(2)) == [8, 0])
        #expect(Array(request[4..<8]) == [0xBE, 0xEF, 2, 1])
        #expect(ICMPEcho.checksum(request) == 0, "the checksum over a message that carries it is 0")
    }

    @Test func theChecksumIsRFC1071s() {
        // RFC 1071's example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2, whose complement is 0x220d.
        #expect(ICMPEcho.checksum([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]) == 0x220d)
        #expect(ICMPEcho.checksum([0xff]) == ~UInt16(0xff00), "an odd byte is padded with zero")
    }

    @Test func aReplyIsReadWithItsSource() throws {
        let packet = Self.ipv4(Self.reply(to: ICMPEcho.request(identifier: 7, sequence: 42)), from: [100, 64, 0, 9])
        let reply = try #require(ICMPEcho.reply(inIPv4Packet: packet))
        #expect(reply.source == IPv4Address("100.64.0.9"))
        #expect(reply.identifier == 7 && reply.sequence == 42)
    }

    @Test func otherPacketsAreNotReplies() {
        let request = ICMPEcho.request(identifier: 7, sequence: 42)
        var corrupt = Self.reply(to: request)
        corrupt[7] ^= 1
        var notICMP = Self.ipv4(Self.reply(to: request), from: [10, 0, 0, 2])
        notICMP[9] = 17
        #expect(ICMPEcho.reply(inIPv4Packet: Self.ipv4(request, from: [10, 0, 0, 2])) == nil, "a request is not a reply")
        #expect(ICMPEcho.reply(inIPv4Packet: Self.ipv4(corrupt, from: [10, 0, 0, 2])) == nil, "a bad checksum")
        #expect(ICMPEcho.reply(inIPv4Packet: notICMP) == nil, "not ICMP")
        #expect(ICMPEcho.reply(inIPv4Packet: Array(Self.ipv4(Self.reply(to: request), from: [10, 0, 0, 2]).prefix(24))) == nil, "short")
        #expect(ICMPEcho.reply(inIPv4Packet: []) == nil)
    }
}
