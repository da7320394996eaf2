/// What a worker needs to join: where the master is, which CA it must present (the SHA-256
/// pin of the CA's public key) and the token. Rendered as one line:
/// `fuse1:HOST:API_PORT:PIN_HEX:TOKEN_ID.SECRET`.
public struct JoinString: Equatable, Sendable, CustomStringConvertible {
    public let host: String
    public let apiPort: UInt16
    public let caPin: String
    public let tokenID: String
    public let secret: String

    public static let scheme = "fuse1"

    public init(host: String, apiPort: UInt16, caPin: String, tokenID: String, secret: String) {
        self.host = host
        self.apiPort = apiPort
        self.caPin = caPin
        self.tokenID = tokenID
        self.secret = secret
    }

    public struct Malformed: Error, Equatable, CustomStringConvertible {
        public let reason: String
        public var description: String { "malformed join string: \(reason)" }
    }

    public init(parsing raw: String) throws {
        let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, parts[0] == Self.scheme else {
            throw Malformed(reason: "expected \(Self.scheme):HOST:PORT:PIN:TOKEN as printed by `fuse token create`")
        }
        guard (try? NameRule.host(parts[1])) != nil else { throw Malformed(reason: "bad master host \"\(parts[1])\"") }
        guard let port = UInt16(parts[2]), port > 0 else { throw Malformed(reason: "bad master port \"\(parts[2])\"") }
        guard parts[3].count == 64, Hex.decode(parts[3]) != nil else {
            throw Malformed(reason: "the CA pin must be 64 hex digits")
        }
        let token = parts[4].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let base64url = { (s: String) in !s.isEmpty && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") } }
        guard token.count == 2, base64url(token[0]), token[0].count <= 32, base64url(token[1]), token[1].count >= 22, token[1].count <= 128 else {
            throw Malformed(reason: "bad token part")
        }
        self.init(host: parts[1], apiPort: port, caPin: parts[3].lowercased(), tokenID: token[0], secret: token[1])
    }

    public var description: String { "\(Self.scheme):\(host):\(apiPort):\(caPin):\(tokenID).\(secret)" }
}
