import FuseModel
import Testing

@Suite struct SortedAddressesTests {
    static func addresses(_ values: [UInt32]) -> [IPv4Address] { values.map { IPv4Address(0x6440_0000 + $0) } }

    @Test func keepsEachAddressOnceInOrder() {
        var set = SortedAddresses(Self.addresses([5, 1, 3, 1, 5]))
        #expect(set.elements == Self.addresses([1, 3, 5]))
        set.insert(IPv4Address(0x6440_0002))
        set.insert(IPv4Address(0x6440_0003))
        set.remove(IPv4Address(0x6440_0005))
        set.remove(IPv4Address(0x6440_0009))
        #expect(set.elements == Self.addresses([1, 2, 3]))
        #expect(set.contains(IPv4Address(0x6440_0002)) && !set.contains(IPv4Address(0x6440_0004)))
        #expect(SortedAddresses().union(set) == set && set.subtracting(SortedAddresses()) == set)
    }

    /// Random sets: union, difference, insertion and removal agree with `Set`'s, sorted.
    @Test func agreesWithSetOnRandomSets() {
        var generator = SplitMix64(seed: 11)
        for _ in 0..<300 {
            let a = Self.addresses((0..<Int.random(in: 0...30, using: &generator)).map { _ in UInt32.random(in: 0..<50, using: &generator) })
            let b = Self.addresses((0..<Int.random(in: 0...30, using: &generator)).map { _ in UInt32.random(in: 0..<50, using: &generator) })
            let (x, y) = (SortedAddresses(a), SortedAddresses(b))
            #expect(x.union(y).elements == Set(a).union(b).sorted())
            #expect(x.subtracting(y).elements == Set(a).subtracting(b).sorted())
            var z = x
            for address in b { z.insert(address) }
            #expect(z == x.union(y))
            for address in b { z.remove(address) }
            #expect(z == x.subtracting(y))
        }
    }
}
