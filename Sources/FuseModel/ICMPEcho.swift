/// ICMP echo messages (RFC 792) as the master's pinger sends and reads them: a request is
/// the ICMP message alone; what a raw IPv4 socket reads is the IPv4 header, then the ICMP
/// message.
public enum ICMPEcho {
    /// An echo request (type 8) with its checksum.
    public static func request(identifier: UInt16, sequence: UInt16, payload: [UInt8] = []) -> [UInt8] {
        var message: [UInt8] = [8, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xff), UInt8(sequence >> 8), UInt8(sequence & 0xff)] + payload
        let sum = checksum(message)
        message[2] = UInt8(sum >> 8)
        message[3] = UInt8(sum & 0xff)
        return message
    }

    /// The identifier and sequence of an echo reply (type 0) read from a raw socket, with the
    /// IPv4 source; nil for anything else (other ICMP types, a short or corrupt packet).
    public static func reply(inIPv4Packet packet: [UInt8]) -> (source: IPv4Address, identifier: UInt16, sequence: UInt16)? {
        guard packet.count >= 20, packet[0] >> 4 == 4 else { return nil }
        let headerLength = Int(packet[0] & 0x0f) * 4
        guard headerLength >= 20, packet.count >= headerLength + 8, packet[9] == 1 else { return nil }
        let message = Array(packet[headerLength...])
        guard message[0] == 0, message[1] == 0, checksum(message) == 0 else { return nil }
        let source = IPv4Address(UInt32(packet[12]) << 24 | UInt32(packet[13]) << 16 | UInt32(packet[14]) << 8 | UInt32(packet[15]))
        return (source, UInt16(message[4]) << 8 | UInt16(message[5]), UInt16(message[6]) << 8 | UInt16(message[7]))
    }

    /// The Internet checksum (RFC 1071): 0 over a message that carries its own.
    public static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }
}
