/// The few DNS messages (RFC 1035) that FUSE's name responder needs: it parses a query with one
/// question and answers `NAME.DOMAIN.fuse` with one A record. Pure: no I/O.
///
/// Answers:
/// - type A or ANY, class IN (or ANY), name resolves → NOERROR, one A record (TTL 5), AA set;
/// - name resolves, other type (AAAA, MX, ...) → NOERROR without answers (NODATA), AA set;
/// - name under `.fuse` that does not resolve → NXDOMAIN, AA set;
/// - name outside `.fuse`, or a class other than IN/ANY → REFUSED;
/// - an opcode other than QUERY → NOTIMP;
/// - malformed after a readable header → FORMERR; no readable header, or a response → no answer.
/// RD is copied, RA is always 0, the question is echoed as received.
public enum DNSMessage {
    public enum RCode: Int, Sendable {
        case noError = 0, formatError = 1, serverFailure = 2, nameError = 3, notImplemented = 4, refused = 5
    }

    public static let typeA: UInt16 = 1
    public static let typeANY: UInt16 = 255
    public static let classIN: UInt16 = 1
    public static let classANY: UInt16 = 255
    public static let ttl: UInt32 = 5

    static let headerLength = 12
    static let maxNameLength = 255

    /// The answer to `query`, or nil when there must be none (no readable header, or the message
    /// is itself a response). `resolve` gets the name lowercased, without the trailing dot, e.g.
    /// "camera.companya.fuse"; it is called only for names under `.fuse` made of printable ASCII.
    public static func respond(to query: [UInt8], resolve: (String) -> IPv4Address?) -> [UInt8]? {
        guard query.count >= headerLength else { return nil }
        let id = UInt16(query[0]) << 8 | UInt16(query[1])
        let flags = UInt16(query[2]) << 8 | UInt16(query[3])
        guard flags & 0x8000 == 0 else { return nil } // QR set: a response; never answer one
        let opcode = flags >> 11 & 0xf
        let rd = flags & 0x0100 != 0

        func header(rcode: RCode, aa: Bool, questions: UInt16, answers: UInt16) -> [UInt8] {
            var out: UInt16 = 0x8000 | opcode << 11 | UInt16(rcode.rawValue)
            if aa { out |= 0x0400 }
            if rd { out |= 0x0100 }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(headerLength)
            for word in [id, out, questions, answers, 0, 0] { append(word, to: &bytes) }
            return bytes
        }

        guard opcode == 0 else { return header(rcode: .notImplemented, aa: false, questions: 0, answers: 0) }
        let qdcount = UInt16(query[4]) << 8 | UInt16(query[5])
        guard qdcount == 1, let question = parseQuestion(query, at: headerLength) else {
            return header(rcode: .formatError, aa: false, questions: 0, answers: 0)
        }
        // Answer, authority and additional records of a query (e.g. an EDNS OPT record) are ignored.
        let echoed = query[headerLength..<question.end]

        let isFuse = question.name == "fuse" || question.name.hasSuffix(".fuse")
        guard isFuse, question.qclass == classIN || question.qclass == classANY else {
            return header(rcode: .refused, aa: false, questions: 1, answers: 0) + echoed
        }
        guard question.printable, let address = resolve(question.name) else {
            return header(rcode: .nameError, aa: true, questions: 1, answers: 0) + echoed
        }
        guard question.qtype == typeA || question.qtype == typeANY else {
            return header(rcode: .noError, aa: true, questions: 1, answers: 0) + echoed
        }
        var out = header(rcode: .noError, aa: true, questions: 1, answers: 1) + echoed
        append(0xc000 | UInt16(headerLength), to: &out) // the question's name
        append(typeA, to: &out)
        append(classIN, to: &out)
        append(UInt16(ttl >> 16), to: &out)
        append(UInt16(ttl & 0xffff), to: &out)
        append(4, to: &out)
        append(UInt16(address.value >> 16), to: &out)
        append(UInt16(address.value & 0xffff), to: &out)
        return out
    }

    /// A standard query (RD set, class IN) for `name`, e.g. "camera.companya.fuse" (a trailing
    /// dot is optional). Labels longer than 63 bytes are cut to 63; empty labels are dropped.
    public static func query(name: String, id: UInt16, type: UInt16 = 1) -> [UInt8] {
        var out: [UInt8] = []
        for word in [id, 0x0100, 1, 0, 0, 0] { append(word, to: &out) }
        var nameLength = 1
        for label in name.split(separator: ".") {
            let bytes = Array(label.utf8.prefix(63))
            guard nameLength + 1 + bytes.count <= maxNameLength else { break }
            nameLength += 1 + bytes.count
            out.append(UInt8(bytes.count))
            out += bytes
        }
        out.append(0)
        append(type, to: &out)
        append(classIN, to: &out)
        return out
    }

    /// The rcode and the A records' addresses of a response, or nil when `bytes` is not a
    /// well-formed response. Records of other types or classes are skipped.
    public static func parseAnswer(_ bytes: [UInt8]) -> (rcode: Int, addresses: [IPv4Address])? {
        guard bytes.count >= headerLength, bytes[2] & 0x80 != 0 else { return nil }
        let rcode = Int(bytes[3] & 0x0f)
        let qdcount = Int(bytes[4]) << 8 | Int(bytes[5])
        let ancount = Int(bytes[6]) << 8 | Int(bytes[7])
        var offset = headerLength
        for _ in 0..<qdcount {
            guard let end = skipName(bytes, at: offset), end + 4 <= bytes.count else { return nil }
            offset = end + 4
        }
        var addresses: [IPv4Address] = []
        for _ in 0..<ancount {
            guard let end = skipName(bytes, at: offset), end + 10 <= bytes.count else { return nil }
            let type = UInt16(bytes[end]) << 8 | UInt16(bytes[end + 1])
            let rclass = UInt16(bytes[end + 2]) << 8 | UInt16(bytes[end + 3])
            let length = Int(bytes[end + 8]) << 8 | Int(bytes[end + 9])
            let data = end + 10
            guard data + length <= bytes.count else { return nil }
            if type == typeA, rclass == classIN, length == 4 {
                let value = bytes[data..<data + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                addresses.append(IPv4Address(value))
            }
            offset = data + length
        }
        return (rcode, addresses)
    }

    // MARK: - Parsing

    struct Question {
        var name: String      // lowercased, no trailing dot
        var printable: Bool   // every label byte is printable ASCII other than '.'
        var qtype: UInt16
        var qclass: UInt16
        var end: Int          // offset just past QCLASS
    }

    /// The question at `start`: uncompressed labels (a pointer in a query is a format error),
    /// at most 255 bytes of name, then QTYPE and QCLASS.
    static func parseQuestion(_ bytes: [UInt8], at start: Int) -> Question? {
        var offset = start
        var labels: [String] = []
        var printable = true
        while true {
            guard offset < bytes.count else { return nil }
            let length = Int(bytes[offset])
            offset += 1
            if length == 0 { break }
            guard length <= 63, offset + length <= bytes.count, offset - start + length < maxNameLength else { return nil }
            var label = ""
            for byte in bytes[offset..<offset + length] {
                if byte <= 0x20 || byte >= 0x7f || byte == UInt8(ascii: ".") { printable = false }
                let lower = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
                label.unicodeScalars.append(Unicode.Scalar(lower))
            }
            labels.append(label)
            offset += length
        }
        guard offset + 4 <= bytes.count else { return nil }
        let qtype = UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
        let qclass = UInt16(bytes[offset + 2]) << 8 | UInt16(bytes[offset + 3])
        return Question(name: labels.joined(separator: "."), printable: printable, qtype: qtype, qclass: qclass, end: offset + 4)
    }

    /// The offset just past a possibly compressed name at `start`, or nil if malformed.
    static func skipName(_ bytes: [UInt8], at start: Int) -> Int? {
        var offset = start
        while offset < bytes.count {
            let length = Int(bytes[offset])
            switch length & 0xc0 {
            case 0xc0: return offset + 2 <= bytes.count ? offset + 2 : nil
            case 0: break
            default: return nil
            }
            if length == 0 { return offset + 1 }
            offset += 1 + length
        }
        return nil
    }

    static func append(_ word: UInt16, to bytes: inout [UInt8]) {
        bytes.append(UInt8(word >> 8))
        bytes.append(UInt8(word & 0xff))
    }
}
