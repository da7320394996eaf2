/// An IPv4 address as a 32-bit number.
public struct IPv4Address: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// Parses dotted-quad notation strictly: four decimal octets, no leading zeros.
    public init?(_ text: some StringProtocol) {
        // One pass over the bytes: the hub reads thousands of addresses back per cycle (UAPI,
        // the store), where splitting into substrings cost more than everything else.
        var value: UInt32 = 0, octet: UInt32 = 0, digits = 0, dots = 0
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                // A leading zero ("01") is refused; "0" alone is an octet.
                guard digits == 0 || octet != 0 else { return nil }
                octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                guard digits <= 3, octet <= 255 else { return nil }
            case UInt8(ascii: "."):
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | octet
                (octet, digits, dots) = (0, 0, dots + 1)
            default:
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        self.value = value << 8 | octet
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.value < rhs.value }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let address = IPv4Address(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad IPv4 address \(text)"))
        }
        self = address
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// An IPv4 network in CIDR notation, e.g. `100.64.0.0/16`.
public struct IPv4CIDR: Hashable, Codable, Sendable, CustomStringConvertible {
    public let network: IPv4Address
    public let prefixLength: Int

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case syntax(String)
        case hostBitsSet(String, suggestion: String)
        public var description: String {
            switch self {
            case .syntax(let text): "bad CIDR \"\(text)\": expected A.B.C.D/N with N from 0 to 32"
            case .hostBitsSet(let text, let suggestion): "bad CIDR \"\(text)\": host bits are set (did you mean \(suggestion)?)"
            }
        }
    }

    public init(network: IPv4Address, prefixLength: Int) {
        precondition((0...32).contains(prefixLength))
        self.prefixLength = prefixLength
        self.network = IPv4Address(network.value & Self.mask(prefixLength))
    }

    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(parts[0]),
              parts[1].allSatisfy(\.isNumber), !parts[1].isEmpty, parts[1].count <= 2,
              parts[1] == "0" || !parts[1].hasPrefix("0"),
              let length = Int(parts[1]), (0...32).contains(length)
        else { throw ParseError.syntax(text) }
        let cidr = IPv4CIDR(network: address, prefixLength: length)
        guard cidr.network == address else { throw ParseError.hostBitsSet(text, suggestion: cidr.description) }
        self = cidr
    }

    static func mask(_ length: Int) -> UInt32 { length == 0 ? 0 : ~UInt32(0) << (32 - length) }

    public var mask: UInt32 { Self.mask(prefixLength) }
    public var broadcast: IPv4Address { IPv4Address(network.value | ~mask) }
    public var description: String { "\(network)/\(prefixLength)" }

    public func contains(_ address: IPv4Address) -> Bool { address.value & mask == network.value }

    /// Whether the two ranges share an address.
    public func overlaps(_ other: IPv4CIDR) -> Bool { contains(other.network) || other.contains(network) }

    /// Usable host addresses: without the network and broadcast addresses (a /31 or /32 has none
    /// that a federation could use).
    public var hosts: ClosedRange<UInt32>? {
        guard prefixLength <= 30 else { return nil }
        return (network.value + 1)...(broadcast.value - 1)
    }

    /// The first usable host address: the master's.
    public var firstHost: IPv4Address? { hosts.map { IPv4Address($0.lowerBound) } }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Hands out host addresses of a federation's range: lowest free first, never one that is
/// assigned; a released address becomes free again.
public struct AddressAllocator: Sendable {
    public let cidr: IPv4CIDR

    public enum AllocationError: Error, Equatable, CustomStringConvertible {
        case rangeTooSmall(IPv4CIDR)
        case exhausted(IPv4CIDR, assigned: Int)
        public var description: String {
            switch self {
            case .rangeTooSmall(let cidr): "address range \(cidr) is too small: it needs at least 2 host addresses (a prefix of /30 or shorter)"
            case .exhausted(let cidr, let assigned): "address range \(cidr) is exhausted: all \(assigned) host addresses are assigned"
            }
        }
    }

    public init(cidr: IPv4CIDR) throws {
        guard cidr.prefixLength <= 30 else { throw AllocationError.rangeTooSmall(cidr) }
        self.cidr = cidr
    }

    /// The lowest host address of the range that is not in `assigned`.
    public func next(excluding assigned: Set<IPv4Address>) throws -> IPv4Address {
        guard let hosts = cidr.hosts else { throw AllocationError.rangeTooSmall(cidr) }
        // Walk in order; `assigned` is small compared to the range in practice, so this stops early.
        var candidate = hosts.lowerBound
        while true {
            let address = IPv4Address(candidate)
            if !assigned.contains(address) { return address }
            if candidate == hosts.upperBound { break }
            candidate += 1
        }
        throw AllocationError.exhausted(cidr, assigned: hosts.count)
    }
}
