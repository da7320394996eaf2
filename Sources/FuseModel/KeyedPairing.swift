/// Two versions of one list of keyed elements — a device's peers as applied and as desired, a
/// set's addresses before and after — matched by key in work that follows the difference: the
/// runs that both versions begin and end with pair up by position (comparing keys only), and
/// only what lies between is matched by lookup. A join inserts one peer among the hub's 2,000
/// and pairs 2,000 peers in one pass, without hashing each of them.
public struct KeyedPairing: Sendable {
    /// For each element of the new list, the index of the old element with its key (nil: new).
    public let oldIndex: [Int?]
    /// The indices of the old elements whose key the new list does not have, in order.
    public let removed: [Int]

    /// Pairs `new` with `old` by `key`. Keys are expected to be unique in each list; where one
    /// repeats, every new element with it pairs with the first old one.
    public init<Element, Key: Hashable>(new: [Element], old: [Element], key: (Element) -> Key) {
        let shorter = min(new.count, old.count)
        var head = 0
        while head < shorter, key(new[head]) == key(old[head]) { head += 1 }
        var tail = 0
        while tail < shorter - head, key(new[new.count - 1 - tail]) == key(old[old.count - 1 - tail]) { tail += 1 }
        let (newMiddle, oldMiddle) = (head..<(new.count - tail), head..<(old.count - tail))
        var byKey: [Key: Int] = [:]
        for index in oldMiddle where byKey[key(old[index])] == nil { byKey[key(old[index])] = index }
        let shift = old.count - new.count
        // Appended one by one: an [Int] made [Int?] at once is a cast per element.
        var oldIndex: [Int?] = []
        oldIndex.reserveCapacity(new.count)
        for index in 0..<head { oldIndex.append(index) }
        var newKeys = Set<Key>()
        for index in newMiddle {
            let itsKey = key(new[index])
            oldIndex.append(byKey[itsKey])
            newKeys.insert(itsKey)
        }
        for index in (new.count - tail)..<new.count { oldIndex.append(index + shift) }
        self.oldIndex = oldIndex
        removed = oldMiddle.filter { !newKeys.contains(key(old[$0])) }
    }
}
