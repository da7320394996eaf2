import FuseModel
import Testing

@Suite struct DNSMessageTests {
    static let camera = IPv4Address(0x6440_0007) // 100.64.0.7
    static func resolve(_ name: String) -> IPv4Address? {
        name == "camera.companya.fuse" ? camera : nil
    }

    /// A query built by hand: id 0xbeef, RD, one question camera.companya.fuse A IN.
    static let cameraQuestion: [UInt8] =
        [6] + Array("camera".utf8) + [8] + Array("companya".utf8) + [4] + Array("fuse".utf8) + [0, 0x00, 0x01, 0x00, 0x01]
    static let cameraQuery: [UInt8] = [0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0] + cameraQuestion

    @Test func queryHelperBuildsTheHandMadeBytes() {
        #expect(DNSMessage.query(name: "camera.companya.fuse", id: 0xbeef) == Self.cameraQuery)
        #expect(DNSMessage.query(name: "camera.companya.fuse.", id: 0xbeef) == Self.cameraQuery)
    }

    @Test func answersAByteExact() throws {
        let response = try #require(DNSMessage.respond(to: Self.cameraQuery, resolve: Self.resolve))
        let expected: [UInt8] =
            [0xbe, 0xef, 0x85, 0x00, 0, 1, 0, 1, 0, 0, 0, 0] // QR AA RD, NOERROR; 1 question, 1 answer
            + Self.cameraQuestion
            + [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 100, 64, 0, 7]
        #expect(response == expected)
        let parsed = try #require(DNSMessage.parseAnswer(response))
        #expect(parsed.rcode == 0)
        #expect(parsed.addresses == [Self.camera])
    }

    @Test func rdIsCopied() throws {
        var query = Self.cameraQuery
        query[2] = 0x00 // RD clear
        let response = try #require(DNSMessage.respond(to: query, resolve: Self.resolve))
        #expect(response[2] == 0x84)
        #expect(response[3] == 0x00)
    }

    @Test func anyGetsTheARecord() throws {
        let response = try #require(DNSMessage.respond(to: DNSMessage.query(name: "camera.companya.fuse", id: 1, type: 255), resolve: Self.resolve))
        let parsed = try #require(DNSMessage.parseAnswer(response))
        #expect(parsed.rcode == 0)
        #expect(parsed.addresses == [Self.camera])
    }

    @Test func nxdomainUnderFuse() throws {
        let query = DNSMessage.query(name: "printer.companya.fuse", id: 7)
        let response = try #require(DNSMessage.respond(to: query, resolve: Self.resolve))
        #expect(Array(response[0..<12]) == [0, 7, 0x85, 0x03, 0, 1, 0, 0, 0, 0, 0, 0])
        #expect(Array(response[12...]) == Array(query[12...]))
        let parsed = try #require(DNSMessage.parseAnswer(response))
        #expect(parsed.rcode == 3)
        #expect(parsed.addresses.isEmpty)
    }

    @Test func refusedOutsideFuse() throws {
        var called = false
        let query = DNSMessage.query(name: "example.org", id: 9)
        let response = try #require(DNSMessage.respond(to: query) { _ in called = true; return Self.camera })
        #expect(!called)
        #expect(Array(response[0..<12]) == [0, 9, 0x81, 0x05, 0, 1, 0, 0, 0, 0, 0, 0])
        #expect(DNSMessage.parseAnswer(response)?.rcode == 5)
        // A suffix that merely ends in "fuse" is not under .fuse.
        let notFuse = try #require(DNSMessage.respond(to: DNSMessage.query(name: "camera.confuse", id: 9), resolve: Self.resolve))
        #expect(DNSMessage.parseAnswer(notFuse)?.rcode == 5)
    }

    @Test func refusedForOtherClasses() throws {
        var query = Self.cameraQuery
        query[query.count - 1] = 3 // class CH
        let response = try #require(DNSMessage.respond(to: query, resolve: Self.resolve))
        #expect(DNSMessage.parseAnswer(response)?.rcode == 5)
    }

    @Test func nodataForAAAA() throws {
        let query = DNSMessage.query(name: "camera.companya.fuse", id: 3, type: 28)
        let response = try #require(DNSMessage.respond(to: query, resolve: Self.resolve))
        #expect(Array(response[0..<12]) == [0, 3, 0x85, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])
        #expect(Array(response[12...]) == Array(query[12...]))
        let parsed = try #require(DNSMessage.parseAnswer(response))
        #expect(parsed.rcode == 0)
        #expect(parsed.addresses.isEmpty)
    }

    @Test func namesCompareWithoutCase() throws {
        var seen: [String] = []
        let query = DNSMessage.query(name: "CaMeRa.CompanyA.FUSE.", id: 4)
        let response = try #require(DNSMessage.respond(to: query) { seen.append($0); return Self.resolve($0) })
        #expect(seen == ["camera.companya.fuse"])
        #expect(DNSMessage.parseAnswer(response)?.addresses == [Self.camera])
        // The question is echoed as asked.
        #expect(Array(response[12..<query.count]) == Array(query[12...]))
    }

    @Test func trailingRecordsAreIgnored() throws {
        // dig adds an EDNS OPT record in the additional section.
        var query = Self.cameraQuery
        query[11] = 1
        query += [0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]
        let response = try #require(DNSMessage.respond(to: query, resolve: Self.resolve))
        #expect(DNSMessage.parseAnswer(response)?.addresses == [Self.camera])
        #expect(response[10] == 0 && response[11] == 0)
    }

    @Test func malformedInputs() throws {
        #expect(DNSMessage.respond(to: [], resolve: Self.resolve) == nil)
        #expect(DNSMessage.respond(to: [1, 2, 3, 4, 5], resolve: Self.resolve) == nil)
        #expect(DNSMessage.respond(to: Array(Self.cameraQuery[0..<11]), resolve: Self.resolve) == nil)

        func expectFormErr(_ query: [UInt8], _ comment: Comment) throws {
            let response = try #require(DNSMessage.respond(to: query, resolve: Self.resolve), comment)
            #expect(response == [query[0], query[1], 0x80 | query[2] & 0x79, 0x01, 0, 0, 0, 0, 0, 0, 0, 0], comment)
        }
        try expectFormErr(Array(Self.cameraQuery[0..<12]), "header only")
        var two = Self.cameraQuery
        two[5] = 2
        try expectFormErr(two + Self.cameraQuestion, "two questions")
        var none = Self.cameraQuery
        none[5] = 0
        try expectFormErr(none, "no question")
        try expectFormErr(Array(Self.cameraQuery[0..<16]), "label running past the end")
        try expectFormErr(Array(Self.cameraQuery.dropLast(2)), "QCLASS missing")
        try expectFormErr(Array(Self.cameraQuery.dropLast(5)), "no terminating label")
        let pointer: [UInt8] = [0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0] + [6] + Array("camera".utf8) + [0xc0, 0x0c, 0, 1, 0, 1]
        try expectFormErr(pointer, "compression pointer in the query")
        let extended: [UInt8] = [0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0] + [0x41, 0, 0, 1, 0, 1]
        try expectFormErr(extended, "extended label type")
        var long: [UInt8] = [0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for _ in 0..<5 { long += [63] + [UInt8](repeating: 0x61, count: 63) }
        try expectFormErr(long + [4] + Array("fuse".utf8) + [0, 0, 1, 0, 1], "name longer than 255 bytes")
    }

    @Test func responsesAndOtherOpcodes() throws {
        var response = Self.cameraQuery
        response[2] |= 0x80
        #expect(DNSMessage.respond(to: response, resolve: Self.resolve) == nil)
        var notify = Self.cameraQuery
        notify[2] = 0x20 // opcode 4 (NOTIFY)
        let answer = try #require(DNSMessage.respond(to: notify, resolve: Self.resolve))
        #expect(answer[3] & 0x0f == 4)
        #expect(answer[2] & 0x78 == 0x20)
    }

    @Test func oddLabelBytesDoNotResolve() throws {
        var called = false
        // "a.b" as one label, then companya.fuse: must not be taken for a.b.companya.fuse.
        let query: [UInt8] = [0, 1, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0] + [3] + Array("a.b".utf8) + [8] + Array("companya".utf8) + [4] + Array("fuse".utf8) + [0, 0, 1, 0, 1]
        let response = try #require(DNSMessage.respond(to: query) { _ in called = true; return Self.camera })
        #expect(!called)
        #expect(DNSMessage.parseAnswer(response)?.rcode == 3)
    }

    @Test func parseAnswerRejectsGarbage() {
        #expect(DNSMessage.parseAnswer([]) == nil)
        #expect(DNSMessage.parseAnswer(Self.cameraQuery) == nil) // a query, not a response
        let good = DNSMessage.respond(to: Self.cameraQuery, resolve: Self.resolve)!
        for length in 12..<good.count { #expect(DNSMessage.parseAnswer(Array(good[0..<length])) == nil) }
    }

    @Test func fuzzNeverCrashes() {
        var rng = SplitMix64(seed: 0x5eed)
        var answered = 0
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                // Mutate a valid query so the parser gets deep.
                bytes = Self.cameraQuery
                for _ in 0..<(1 + rng.next() % 4) {
                    let index = Int(rng.next() % UInt64(bytes.count))
                    bytes[index] = UInt8(truncatingIfNeeded: rng.next())
                }
                if rng.next() % 3 == 0 { bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count + 1)))) }
            }
            if let response = DNSMessage.respond(to: bytes, resolve: Self.resolve) {
                answered += 1
                #expect(response.count >= 12)
                #expect(response[0] == bytes[0] && response[1] == bytes[1])
            }
            _ = DNSMessage.parseAnswer(bytes)
        }
        #expect(answered > 0)
    }
}

