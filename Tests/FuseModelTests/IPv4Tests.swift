import Foundation
import FuseModel
import Testing

@Suite struct IPv4AddressTests {
    @Test func parsesDottedQuadStrictly() throws {
        #expect(IPv4Address("100.64.0.1")?.value == 0x6440_0001)
        #expect(IPv4Address("0.0.0.0")?.value == 0)
        #expect(IPv4Address("255.255.255.255")?.value == 0xffff_ffff)
        #expect(IPv4Address("10.0.100.7"[...])?.value == 0x0a00_6407)
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1.2.3.-4", "1..3.4", " 1.2.3.4", "1.2.3.4 ", "a.b.c.d", "1.2.3.0x1",
                    "1.2.3.", ".1.2.3", "1.2.3.4.", "1.2.3.00", "1.2.3.1000", "1.2.3.\u{663}", "1.2.3.4\n"] {
            #expect(IPv4Address(bad) == nil, "\(bad) must not parse")
        }
    }

    @Test func descriptionRoundTripsAndOrdersNumerically() throws {
        let a = try #require(IPv4Address("10.0.0.9")), b = try #require(IPv4Address("10.0.0.10"))
        #expect(a.description == "10.0.0.9")
        #expect(a < b)
        #expect(IPv4Address(UInt32(0xC0A8_0101)).description == "192.168.1.1")
    }
}

@Suite struct IPv4CIDRTests {
    @Test func parsesGoodRanges() throws {
        let cidr = try IPv4CIDR(parsing: "100.64.0.0/16")
        #expect(cidr.network == IPv4Address("100.64.0.0"))
        #expect(cidr.prefixLength == 16)
        #expect(cidr.description == "100.64.0.0/16")
        #expect(cidr.broadcast == IPv4Address("100.64.255.255"))
        #expect(cidr.firstHost == IPv4Address("100.64.0.1"))
        #expect(cidr.contains(try #require(IPv4Address("100.64.200.7"))))
        #expect(!cidr.contains(try #require(IPv4Address("100.65.0.1"))))
        #expect(try IPv4CIDR(parsing: "10.77.0.0/24").hosts == 0x0a4d_0001...0x0a4d_00fe)
        #expect(try IPv4CIDR(parsing: "0.0.0.0/0").description == "0.0.0.0/0")
        // A /32 is a valid CIDR (WireGuard allowed IPs use it); it only has no usable hosts.
        #expect(try IPv4CIDR(parsing: "100.64.0.2/32").description == "100.64.0.2/32")
    }

    @Test(arguments: ["", "10.0.0.0", "10.0.0.0/", "/8", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/024",
                      "10.0.0/24", "10.0.0.256/24", "10.0.0.00/24", "10.0.0.0/8/8", " 10.0.0.0/8", "10.0.0.0/8 ", "10.0.0.0/x"])
    func rejectsBadSyntax(_ text: String) {
        #expect(throws: IPv4CIDR.ParseError.syntax(text)) { try IPv4CIDR(parsing: text) }
    }

    @Test func rejectsHostBitsWithSuggestion() {
        #expect(throws: IPv4CIDR.ParseError.hostBitsSet("100.64.0.1/16", suggestion: "100.64.0.0/16")) {
            try IPv4CIDR(parsing: "100.64.0.1/16")
        }
        #expect(throws: IPv4CIDR.ParseError.hostBitsSet("10.77.0.130/25", suggestion: "10.77.0.128/25")) {
            try IPv4CIDR(parsing: "10.77.0.130/25")
        }
        #expect(IPv4CIDR.ParseError.hostBitsSet("100.64.0.1/16", suggestion: "100.64.0.0/16").description
            == "bad CIDR \"100.64.0.1/16\": host bits are set (did you mean 100.64.0.0/16?)")
        #expect(IPv4CIDR.ParseError.syntax("x").description == "bad CIDR \"x\": expected A.B.C.D/N with N from 0 to 32")
    }

    @Test func decodesAndEncodesAsText() throws {
        let data = Data(#"["10.77.0.0/24"]"#.utf8)
        let decoded = try JSONDecoder().decode([IPv4CIDR].self, from: data)
        #expect(decoded == [try IPv4CIDR(parsing: "10.77.0.0/24")])
        #expect(String(decoding: try JSONEncoder().encode(decoded), as: UTF8.self) == #"["10.77.0.0\/24"]"#)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([IPv4CIDR].self, from: Data(#"["10.77.0.1/24"]"#.utf8)) }
    }
}

@Suite struct AddressAllocatorTests {
    func address(_ text: String) throws -> IPv4Address { try #require(IPv4Address(text)) }

    @Test func slash31AndSlash32AreTooSmall() throws {
        for text in ["10.0.0.0/31", "10.0.0.1/32"] {
            let cidr = try IPv4CIDR(parsing: text)
            #expect(cidr.hosts == nil)
            #expect(cidr.firstHost == nil)
            #expect(throws: AddressAllocator.AllocationError.rangeTooSmall(cidr)) { try AddressAllocator(cidr: cidr) }
        }
        #expect(AddressAllocator.AllocationError.rangeTooSmall(try IPv4CIDR(parsing: "10.0.0.0/31")).description
            == "address range 10.0.0.0/31 is too small: it needs at least 2 host addresses (a prefix of /30 or shorter)")
    }

    @Test func masterTakesTheFirstHost() throws {
        let allocator = try AddressAllocator(cidr: try IPv4CIDR(parsing: "10.77.0.0/24"))
        #expect(try allocator.next(excluding: []) == address("10.77.0.1"))
    }

    @Test func lowestFreeAddressFirst() throws {
        let allocator = try AddressAllocator(cidr: try IPv4CIDR(parsing: "100.64.0.0/16"))
        let assigned: Set = [try address("100.64.0.1"), try address("100.64.0.2"), try address("100.64.0.4")]
        #expect(try allocator.next(excluding: assigned) == address("100.64.0.3"))
        // Crossing an octet boundary.
        let full = Set((1...255).map { IPv4Address(0x6440_0000 + UInt32($0)) })
        #expect(try allocator.next(excluding: full) == address("100.64.1.0"))
    }

    @Test func slash30IsExhaustedAfterTwoHosts() throws {
        let cidr = try IPv4CIDR(parsing: "10.0.0.4/30")
        let allocator = try AddressAllocator(cidr: cidr)
        let first = try allocator.next(excluding: [])
        let second = try allocator.next(excluding: [first])
        #expect(first == (try address("10.0.0.5")))
        #expect(second == (try address("10.0.0.6")))
        #expect(throws: AddressAllocator.AllocationError.exhausted(cidr, assigned: 2)) {
            try allocator.next(excluding: [first, second])
        }
        #expect(AddressAllocator.AllocationError.exhausted(cidr, assigned: 2).description
            == "address range 10.0.0.4/30 is exhausted: all 2 host addresses are assigned")
    }

    @Test func releasedAddressIsHandedOutAgain() throws {
        let allocator = try AddressAllocator(cidr: try IPv4CIDR(parsing: "10.77.0.0/24"))
        var assigned: Set<IPv4Address> = []
        for _ in 0..<5 { assigned.insert(try allocator.next(excluding: assigned)) }
        #expect(assigned.count == 5)
        #expect(assigned.remove(try address("10.77.0.3")) != nil)
        #expect(try allocator.next(excluding: assigned) == address("10.77.0.3"))
    }

    @Test func neverAssignedNeverNetworkOrBroadcast() throws {
        let cidr = try IPv4CIDR(parsing: "192.168.7.16/28")
        let allocator = try AddressAllocator(cidr: cidr)
        // Deterministic pseudo-random allocate/release sequence.
        var rng = SplitMix64(seed: 42)
        var assigned: Set<IPv4Address> = []
        for _ in 0..<2000 {
            if !assigned.isEmpty, rng.next() % 3 == 0 {
                let victim = assigned.sorted()[Int(rng.next() % UInt64(assigned.count))]
                assigned.remove(victim)
                continue
            }
            do {
                let address = try allocator.next(excluding: assigned)
                #expect(!assigned.contains(address))
                #expect(address != cidr.network)
                #expect(address != cidr.broadcast)
                #expect(cidr.contains(address))
                // Lowest free: nothing below it (inside the host range) is free.
                let lower = (cidr.network.value + 1)..<address.value
                #expect(lower.allSatisfy { assigned.contains(IPv4Address($0)) })
                assigned.insert(address)
            } catch {
                #expect(error as? AddressAllocator.AllocationError == .exhausted(cidr, assigned: 14))
                #expect(assigned.count == 14)
            }
        }
    }
}

/// A tiny deterministic generator for reproducible sequences.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
