import Foundation
import FuseModel
import Testing

/// Decodes base64url without padding (test-side, independent of the code under test).
func base64URLDecode(_ text: String) -> [UInt8]? {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.count % 4 != 0 { base64.append("=") }
    return Data(base64Encoded: base64).map(Array.init)
}

@Suite struct JoinTokenTests {
    let t0 = Date(timeIntervalSince1970: 1_900_000_000)

    @Test func validUntilExpiresAt() {
        let (token, _) = JoinToken.issue(domain: "companya", ttl: .seconds(900), maxUses: 1, now: t0)
        #expect(token.createdAt == t0)
        #expect(token.expiresAt == t0.addingTimeInterval(900))
        #expect(token.domain == "companya")
        #expect(token.uses == 0)
        #expect(!token.revoked)
        #expect(token.state(at: t0) == .valid)
        #expect(token.state(at: t0.addingTimeInterval(899.999)) == .valid)
        #expect(token.state(at: t0.addingTimeInterval(900)) == .expired)
        #expect(token.state(at: t0.addingTimeInterval(86400)) == .expired)
    }

    @Test func fractionalTTL() {
        let (token, _) = JoinToken.issue(domain: "d", ttl: .milliseconds(1500), maxUses: 1, now: t0)
        #expect(token.expiresAt == t0.addingTimeInterval(1.5))
    }

    @Test func usesExhausted() {
        var (token, _) = JoinToken.issue(domain: "d", ttl: .seconds(60), maxUses: 2, now: t0)
        token.uses = 1
        #expect(token.state(at: t0) == .valid)
        token.uses = 2
        #expect(token.state(at: t0) == .used)
    }

    @Test func revoked() {
        var (token, _) = JoinToken.issue(domain: "d", ttl: .seconds(60), maxUses: 2, now: t0)
        token.revoked = true
        #expect(token.state(at: t0) == .revoked)
        // Revocation is what the operator did on purpose: it is reported even after expiry.
        #expect(token.state(at: t0.addingTimeInterval(120)) == .revoked)
    }

    @Test func matchesOnlyItsSecret() throws {
        let (token, secret) = JoinToken.issue(domain: "d", ttl: .seconds(60), maxUses: 1, now: t0)
        #expect(token.matches(secret: secret))
        #expect(!token.matches(secret: ""))
        #expect(!token.matches(secret: secret + "x"))
        #expect(!token.matches(secret: String(secret.dropLast())))
        let last = try #require(secret.last)
        #expect(!token.matches(secret: String(secret.dropLast()) + (last == "A" ? "B" : "A")))
        let (_, other) = JoinToken.issue(domain: "d", ttl: .seconds(60), maxUses: 1, now: t0)
        #expect(!token.matches(secret: other))
    }

    @Test func secretHasAtLeast128BitsAndIsUnique() throws {
        var secrets: Set<String> = [], ids: Set<String> = []
        for _ in 0..<1000 {
            let (token, secret) = JoinToken.issue(domain: "d", ttl: .seconds(60), maxUses: 1, now: t0)
            #expect(secret.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }, "not base64url: \(secret)")
            let bytes = try #require(base64URLDecode(secret))
            #expect(bytes.count >= 16)
            secrets.insert(secret)
            ids.insert(token.id)
        }
        #expect(secrets.count == 1000)
        #expect(ids.count == 1000)
    }

    @Test func storesOnlyTheDigest() throws {
        let (token, secret) = JoinToken.issue(domain: "d", ttl: .seconds(60), maxUses: 1, now: t0)
        #expect(token.secretDigest == Secret.digest(secret))
        #expect(token.secretDigest.count == 64)
        #expect(token.secretDigest != secret)
        let json = String(decoding: try JSONEncoder().encode(token), as: UTF8.self)
        #expect(!json.contains(secret))
        #expect(json.contains(token.secretDigest))
        let back = try JSONDecoder().decode(JoinToken.self, from: Data(json.utf8))
        #expect(back == token)
        #expect(back.matches(secret: secret))
    }

    @Test func secretDigestIsSHA256Hex() {
        // SHA-256("abc"), FIPS 180-2 test vector.
        #expect(Secret.digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Secret.constantTimeEquals("abc", "abc"))
        #expect(!Secret.constantTimeEquals("abc", "abd"))
        #expect(!Secret.constantTimeEquals("abc", "abcd"))
    }
}

@Suite struct DurationTextTests {
    @Test(arguments: [
        ("15m", 900), ("1h30m", 5400), ("90s", 90), ("2h", 7200), ("1d", 86400), ("1d2h3m4s", 93784), ("0h5m", 300),
    ] as [(String, Int64)])
    func parses(_ text: String, _ seconds: Int64) throws {
        #expect(try DurationText.parse(text) == .seconds(seconds))
    }

    @Test(arguments: ["", "15", "m", "15x", "15M", "1.5h", "-5m", "0s", "0m0s", "15 m", " 15m", "h15", "1h30", "2000000s", "1w", "٣m"])
    func rejects(_ text: String) {
        #expect(throws: DurationText.Invalid.self) { try DurationText.parse(text) }
    }

    @Test func errorMessage() {
        do {
            _ = try DurationText.parse("15x")
            Issue.record("15x parsed")
        } catch {
            #expect("\(error)" == "bad duration \"15x\": use e.g. 90s, 15m, 2h, 1d")
        }
    }
}

@Suite struct JoinStringTests {
    static let pin = String(repeating: "0123456789abcdef", count: 4)
    static let secret = "q1w2e3r4t5y6u7i8o9p0-_ASDFGHJKLzxcvbnm1234"

    @Test func roundTrip() throws {
        let join = JoinString(host: "master.example.org", apiPort: 7443, caPin: Self.pin, tokenID: "a1b2c3d4e5f6", secret: Self.secret)
        #expect(join.description == "fuse1:master.example.org:7443:\(Self.pin):a1b2c3d4e5f6.\(Self.secret)")
        #expect(try JoinString(parsing: join.description) == join)
        // Pasted with surrounding whitespace; IPv4 host.
        let ip = JoinString(host: "203.0.113.10", apiPort: 1, caPin: Self.pin, tokenID: "x", secret: Secret.random())
        #expect(try JoinString(parsing: "  \(ip)\n") == ip)
    }

    @Test func pinIsLowercased() throws {
        let text = "fuse1:m.example:7443:\(Self.pin.uppercased()):abc.\(Self.secret)"
        #expect(try JoinString(parsing: text).caPin == Self.pin)
    }

    static let malformed: [String] = {
        let pin = JoinStringTests.pin, secret = JoinStringTests.secret
        return [
            "",
            "   ",
            "fuse2:m.example:7443:\(pin):abc.\(secret)",           // wrong scheme
            "https://m.example:7443/\(pin)",                        // wrong scheme
            "m.example:7443:\(pin):abc.\(secret)",                  // missing scheme
            "fuse1:m.example:7443:\(pin)",                          // missing token
            "fuse1:m.example:\(pin):abc.\(secret)",                 // missing port
            "fuse1:m.example:7443:\(pin):abc.\(secret):extra",      // extra part
            "fuse1::7443:\(pin):abc.\(secret)",                     // empty host
            "fuse1:-bad-:7443:\(pin):abc.\(secret)",                // bad host
            "fuse1:1.2.3:7443:\(pin):abc.\(secret)",                // numeric non-address host
            "fuse1:m.example:0:\(pin):abc.\(secret)",               // bad port
            "fuse1:m.example:65536:\(pin):abc.\(secret)",
            "fuse1:m.example:port:\(pin):abc.\(secret)",
            "fuse1:m.example:-1:\(pin):abc.\(secret)",
            "fuse1:m.example:7443:\(pin.dropLast()):abc.\(secret)", // short pin
            "fuse1:m.example:7443:\(pin)00:abc.\(secret)",          // long pin
            "fuse1:m.example:7443:\(pin.dropLast())g:abc.\(secret)", // non-hex pin
            "fuse1:m.example:7443:\(pin):abc\(secret)",             // no dot
            "fuse1:m.example:7443:\(pin):.\(secret)",               // empty id
            "fuse1:m.example:7443:\(pin):abc.",                     // empty secret
            "fuse1:m.example:7443:\(pin):abc.tooShortSecret",       // short secret
            "fuse1:m.example:7443:\(pin):abc.\(secret).x",          // two dots
            "fuse1:m.example:7443:\(pin):abc.\(secret)+/=",         // not base64url
            "fuse1:m.example:7443:\(pin):\(String(repeating: "a", count: 33)).\(secret)", // id too long
            "fuse1:m.example:7443:\(pin):abc.\(String(repeating: "s", count: 129))",     // secret too long
        ]
    }()

    @Test(arguments: malformed)
    func rejectsMalformed(_ text: String) {
        #expect(throws: JoinString.Malformed.self) { try JoinString(parsing: text) }
    }

    @Test func reasons() {
        expectThrowing(JoinString.Malformed.self, "malformed join string: the CA pin must be 64 hex digits") {
            try JoinString(parsing: "fuse1:m.example:7443:\(Self.pin.dropLast()):abc.\(Self.secret)")
        }
        expectThrowing(JoinString.Malformed.self, "malformed join string: bad master port \"0\"") {
            try JoinString(parsing: "fuse1:m.example:0:\(Self.pin):abc.\(Self.secret)")
        }
        expectThrowing(JoinString.Malformed.self, "malformed join string: bad token part") {
            try JoinString(parsing: "fuse1:m.example:7443:\(Self.pin):abc.short")
        }
    }
}

/// Expects `body` to throw an `E` whose description is exactly `message`.
func expectThrowing<E: Error & CustomStringConvertible, R>(
    _ type: E.Type, _ message: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> R
) {
    let error = #expect(throws: type, sourceLocation: sourceLocation) { _ = try body() }
    #expect(error?.description == message, sourceLocation: sourceLocation)
}
