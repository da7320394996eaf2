import FuseModel
import Testing

@Suite struct KeyedPairingTests {
    /// What the pairing must equal: every new element looked up among all the old ones.
    static func byLookup(new: [Int], old: [Int]) -> Pairs {
        let first = Dictionary(old.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
        return Pairs(oldIndex: new.map { first[$0] }, removed: old.indices.filter { !Set(new).contains(old[$0]) })
    }

    /// A pairing's two lists, comparable.
    struct Pairs: Equatable {
        let oldIndex: [Int?]
        let removed: [Int]
    }

    @Test func aJoinInTheMiddleIsOneNewElementAndTheRestPairsByPosition() {
        let old = Array(0..<2000).map { $0 * 2 }
        var new = old
        new.insert(1001, at: 501)
        let pairing = KeyedPairing(new: new, old: old, key: { $0 })
        #expect(pairing.oldIndex.filter { $0 == nil }.count == 1)
        #expect(pairing.oldIndex[501] == nil)
        #expect(pairing.oldIndex[500] == 500 && pairing.oldIndex[502] == 501 && pairing.oldIndex.last == 1999)
        #expect(pairing.removed.isEmpty)
        #expect(pairing.pairs == Self.byLookup(new: new, old: old))
    }

    @Test func aLeaveIsOneRemovedIndex() {
        let old = Array(0..<100)
        let new = old.filter { $0 != 40 }
        let pairing = KeyedPairing(new: new, old: old, key: { $0 })
        #expect(pairing.removed == [40])
        #expect(pairing.oldIndex.allSatisfy { $0 != nil })
        #expect(pairing.pairs == Self.byLookup(new: new, old: old))
    }

    @Test func emptyListsAndNoCommonEnds() {
        #expect(KeyedPairing(new: [Int](), old: [], key: { $0 }).pairs == .init(oldIndex: [], removed: []))
        #expect(KeyedPairing(new: [1, 2], old: [], key: { $0 }).pairs == .init(oldIndex: [nil, nil], removed: []))
        #expect(KeyedPairing(new: [], old: [1, 2], key: { $0 }).pairs == .init(oldIndex: [], removed: [0, 1]))
        #expect(KeyedPairing(new: [3, 2, 1], old: [1, 2, 3], key: { $0 }).pairs == .init(oldIndex: [2, 1, 0], removed: []))
    }

    /// Random edits (insertions, removals, moves, replacements) of random lists of unique keys:
    /// the pairing is always the one a lookup of every element gives.
    @Test func randomEditsPairAsALookupDoes() {
        var generator = SplitMix64(seed: 7)
        for _ in 0..<500 {
            let old = Array(Set((0..<Int.random(in: 0...40, using: &generator)).map { _ in Int.random(in: 0..<60, using: &generator) })).sorted()
            var new = old
            for _ in 0..<Int.random(in: 0...4, using: &generator) {
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: new.insert(Int.random(in: 60..<90, using: &generator), at: Int.random(in: 0...new.count, using: &generator))
                case 1 where !new.isEmpty: new.remove(at: Int.random(in: 0..<new.count, using: &generator))
                case 2 where !new.isEmpty:
                    let moved = new.remove(at: Int.random(in: 0..<new.count, using: &generator))
                    new.insert(moved, at: Int.random(in: 0...new.count, using: &generator))
                case 3 where !new.isEmpty: new[Int.random(in: 0..<new.count, using: &generator)] = Int.random(in: 90..<120, using: &generator)
                default: break
                }
            }
            new = new.reduce(into: [Int]()) { if !$0.contains($1) { $0.append($1) } }
            #expect(KeyedPairing(new: new, old: old, key: { $0 }).pairs == Self.byLookup(new: new, old: old), "old \(old), new \(new)")
        }
    }
}

extension KeyedPairing {
    var pairs: KeyedPairingTests.Pairs { KeyedPairingTests.Pairs(oldIndex: oldIndex, removed: removed) }
}
