import FuseModel

/// The changes this process made to the store, each under the map version it made, so that
/// the master's snapshot follows them instead of reading every node again. Only the latest
/// `capacity` are kept; a version not here (made before this process started, or long ago)
/// means: read the store.
struct StoreJournal: Sendable {
    static let capacity = 4096
    private var entries: [Int64: FederationChange] = [:]
    /// The latest version recorded (nil before the first).
    private(set) var latest: Int64?

    mutating func record(_ change: FederationChange, version: Int64) {
        entries[version] = change
        latest = max(latest ?? version, version)
        if entries.count > 2 * Self.capacity {
            let keep = version - Int64(Self.capacity)
            entries = entries.filter { $0.key > keep }
        }
    }

    /// The changes after `version`, in order, up to the first version not recorded, and the
    /// version they lead to; nil when the next version is not recorded.
    func changes(after version: Int64) -> (version: Int64, changes: [FederationChange])? {
        var next = version + 1
        var changes: [FederationChange] = []
        while let change = entries[next] {
            changes.append(change)
            next += 1
        }
        return changes.isEmpty ? nil : (next - 1, changes)
    }
}
