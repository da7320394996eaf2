import Foundation
import FuseModel
import Testing

@Suite struct ExposureTargetTests {
    static func cidr(_ text: String) -> IPv4CIDR { (try? IPv4CIDR(parsing: text)) ?? IPv4CIDR(network: IPv4Address(0), prefixLength: 32) }
    static let ranges: [(name: String, range: IPv4CIDR)] = [("VPN", cidr("100.64.0.0/16")), ("engine", cidr("10.213.0.0/16")), ("overlay", cidr("10.214.0.0/16"))]
    static let own = [IPv4Address("192.168.10.2")!, IPv4Address("100.64.0.2")!]
    static let lan = [cidr("192.168.10.0/24"), cidr("10.5.0.0/30")]

    /// Why `target` is refused, or nil when it may be exposed.
    func refusal(_ target: String, lan: [IPv4CIDR]? = ExposureTargetTests.lan) -> String? {
        do {
            try ExposureTarget.check(IPv4Address(target)!, federationRanges: Self.ranges, ownAddresses: Self.own, lan: lan)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: [
        ("0.0.0.0", "an unspecified (\"this network\") address"),
        ("0.1.2.3", "an unspecified (\"this network\") address"),
        ("127.0.0.1", "a loopback address"),
        ("127.255.0.9", "a loopback address"),
        ("169.254.1.1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("239.255.255.250", "a multicast address"),
        ("255.255.255.255", "a reserved or broadcast address"),
        ("240.0.0.1", "a reserved or broadcast address"),
        ("100.64.0.7", "in the federation's VPN range 100.64.0.0/16"),
        ("10.213.4.2", "in the federation's engine range 10.213.0.0/16"),
        ("10.214.0.9", "in the federation's overlay range 10.214.0.0/16"),
        ("192.168.10.2", "an address of the node itself"),
        ("192.168.10.0", "the network address of 192.168.10.0/24"),
        ("192.168.10.255", "the broadcast address of 192.168.10.0/24"),
        ("192.168.11.5", "not in the node's LAN (192.168.10.0/24, 10.5.0.0/30)"),
        ("8.8.8.8", "not in the node's LAN (192.168.10.0/24, 10.5.0.0/30)"),
    ])
    func refused(target: String, reason: String) {
        #expect(refusal(target) == "target \(target) is \(reason); an exposure publishes one device of the node's LAN")
    }

    @Test func unicastDevicesOfTheLANAreAccepted() {
        #expect(refusal("192.168.10.11") == nil)
        #expect(refusal("192.168.10.254") == nil)
        #expect(refusal("10.5.0.1") == nil)
        // Without knowledge of the LAN (the master's check), any other unicast address passes.
        #expect(refusal("192.168.11.5", lan: nil) == nil)
        #expect(refusal("127.0.0.1", lan: nil) != nil)
        #expect(refusal("192.168.10.2", lan: nil) != nil)
    }

    @Test func aNodeWithoutLANCannotExposeAnything() {
        #expect(refusal("192.168.10.11", lan: []) == "target 192.168.10.11 is not in the node's LAN (none); an exposure publishes one device of the node's LAN")
    }
}

@Suite struct RateLimitTests {
    static let start = Date(timeIntervalSince1970: 1_900_000_000)

    @Test func aBucketAllowsItsCapacityThenRefills() {
        var bucket = TokenBucket(capacity: 3, perSecond: 0.5, now: Self.start)
        var spent: [Bool] = []
        for _ in 0..<3 { spent.append(bucket.spend(at: Self.start)) }
        #expect(spent == [true, true, true])
        let fourth = bucket.spend(at: Self.start)
        #expect(!fourth)
        let allowed = bucket.allows(at: Self.start)
        #expect(!allowed)
        #expect(bucket.wait(at: Self.start) == 2)
        let early = bucket.allows(at: Self.start.addingTimeInterval(1.9))
        #expect(!early)
        let refilled = bucket.spend(at: Self.start.addingTimeInterval(2))
        #expect(refilled)
        // Never above capacity, however long it rested.
        let later = Self.start.addingTimeInterval(3600)
        spent = []
        for _ in 0..<4 { spent.append(bucket.spend(at: later)) }
        #expect(spent == [true, true, true, false])
    }

    @Test func keysAreLimitedApart() {
        var limit = KeyedRateLimit<String>(capacity: 2, perSecond: 1)
        limit.spend("a", at: Self.start)
        limit.spend("a", at: Self.start)
        let a = limit.allows("a", at: Self.start), b = limit.allows("b", at: Self.start)
        #expect(!a && b)
        #expect(limit.wait("a", at: Self.start) == 1)
        #expect(limit.wait("b", at: Self.start) == 0)
        let later = limit.allows("a", at: Self.start.addingTimeInterval(1))
        #expect(later)
    }

    @Test func memoryStaysBoundedWhateverTheNumberOfKeys() {
        var limit = KeyedRateLimit<Int>(capacity: 2, perSecond: 1, maxKeys: 100)
        for key in 0..<10_000 {
            limit.spend(key, at: Self.start.addingTimeInterval(Double(key) / 1000))
            #expect(limit.count <= 100)
        }
        // A key that is being limited right now is still limited.
        let now = Self.start.addingTimeInterval(10)
        limit.spend(-1, at: now)
        limit.spend(-1, at: now)
        let limited = limit.allows(-1, at: now)
        #expect(!limited)
    }
}
