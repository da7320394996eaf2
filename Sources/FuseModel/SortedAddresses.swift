/// A set of IPv4 addresses kept in address order, as a firewall lists them: adding or removing
/// one address, joining, subtracting and comparing two sets cost no hashing, and listing them
/// no sort. The hub's firewall lists every node, and was built again from hashed sets on every
/// join (a few milliseconds at 2,000 nodes).
public struct SortedAddresses: Hashable, Sendable {
    /// In address order, each once.
    public private(set) var elements: [IPv4Address]

    public init() { elements = [] }

    public init(_ addresses: some Sequence<IPv4Address>) {
        var sorted = addresses.sorted()
        sorted.removeDuplicatesOfSorted()
        elements = sorted
    }

    public var isEmpty: Bool { elements.isEmpty }
    public var count: Int { elements.count }

    public func contains(_ address: IPv4Address) -> Bool {
        let index = elements.partitionPoint { $0 >= address }
        return index < elements.count && elements[index] == address
    }

    public mutating func insert(_ address: IPv4Address) {
        let index = elements.partitionPoint { $0 >= address }
        if index == elements.count || elements[index] != address { elements.insert(address, at: index) }
    }

    public mutating func remove(_ address: IPv4Address) {
        let index = elements.partitionPoint { $0 >= address }
        if index < elements.count, elements[index] == address { elements.remove(at: index) }
    }

    /// The addresses in either set.
    public func union(_ other: SortedAddresses) -> SortedAddresses {
        if other.isEmpty { return self }
        if isEmpty { return other }
        var merged: [IPv4Address] = []
        merged.reserveCapacity(count + other.count)
        var (i, j) = (0, 0)
        while i < elements.count, j < other.elements.count {
            let (a, b) = (elements[i], other.elements[j])
            merged.append(min(a, b))
            if a <= b { i += 1 }
            if b <= a { j += 1 }
        }
        merged += elements[i...]
        merged += other.elements[j...]
        return SortedAddresses(sorted: merged)
    }

    /// The addresses of this set that `other` does not have.
    public func subtracting(_ other: SortedAddresses) -> SortedAddresses {
        if other.isEmpty || isEmpty { return self }
        var left: [IPv4Address] = []
        left.reserveCapacity(count)
        var j = 0
        for address in elements {
            while j < other.elements.count, other.elements[j] < address { j += 1 }
            if j == other.elements.count || other.elements[j] != address { left.append(address) }
        }
        return SortedAddresses(sorted: left)
    }

    private init(sorted: [IPv4Address]) { elements = sorted }
}

extension Array where Element: Equatable {
    /// Keeps the first of each run of equal elements (all duplicates, once sorted).
    fileprivate mutating func removeDuplicatesOfSorted() {
        guard count > 1 else { return }
        var kept = 1
        for index in 1..<count where self[index] != self[kept - 1] {
            self[kept] = self[index]
            kept += 1
        }
        removeLast(count - kept)
    }
}
