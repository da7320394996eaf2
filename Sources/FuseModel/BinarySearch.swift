extension RandomAccessCollection {
    /// The index of the first element for which `belongsAfter` holds, in a collection where it
    /// holds for a suffix (binary search).
    func partitionPoint(where belongsAfter: (Element) -> Bool) -> Index {
        var (low, high) = (startIndex, endIndex)
        while low < high {
            let middle = index(low, offsetBy: distance(from: low, to: high) / 2)
            if belongsAfter(self[middle]) { high = middle } else { low = index(after: middle) }
        }
        return low
    }
}
