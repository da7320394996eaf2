import Crypto
import Foundation

/// A WireGuard (Curve25519) key, 32 bytes; shown in base64 as `wg` does.
public struct WireGuardKey: Hashable, Codable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    public init?(base64: String) {
        guard let data = Data(base64Encoded: base64), data.count == 32 else { return nil }
        self.bytes = Array(data)
    }

    public init?(hex: String) {
        guard let bytes = Hex.decode(hex), bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    public var base64: String { Data(bytes).base64EncodedString() }
    public var hex: String { Hex.encode(bytes) }
    public var description: String { base64 }

    /// A fresh private key.
    public static func generatePrivate() -> WireGuardKey {
        // Force-unwrap-free: a raw Curve25519 key is always 32 bytes.
        WireGuardKey(bytes: Array(Curve25519.KeyAgreement.PrivateKey().rawRepresentation)) ?? generatePrivate()
    }

    /// The public key of this private key.
    public var publicKey: WireGuardKey {
        guard let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: bytes),
              let pub = WireGuardKey(bytes: Array(key.publicKey.rawRepresentation))
        else { preconditionFailure("a 32-byte key is always a valid Curve25519 private key") }
        return pub
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let key = WireGuardKey(base64: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad WireGuard key"))
        }
        self = key
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(base64)
    }
}

public enum Hex {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        // Without a formatted string per byte: every authenticated request digests its secret.
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        for i in stride(from: 0, to: chars.count, by: 2) {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Random secrets and their one-way digests. Secrets are stored only as digests.
public enum Secret {
    /// `count` random bytes from the system's CSPRNG, as base64url without padding.
    public static func random(bytes count: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Base64URL.encode(bytes)
    }

    /// Random lowercase hex (identifiers, not secrets).
    public static func identifier(bytes count: Int = 6) -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode((0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// SHA-256 digest of a secret, hex.
    public static func digest(_ secret: String) -> String {
        Hex.encode(SHA256.hash(data: Data(secret.utf8)))
    }

    /// Compares two strings in time that depends only on their lengths.
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}

public enum Base64URL {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

extension Secret {
    /// SHA-256 of bytes, hex.
    public static func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
        Hex.encode(SHA256.hash(data: Data(bytes)))
    }
}
