/// Counts of the API's requests by method and status, and a histogram of their latency
/// (until the response head; streamed bodies are not timed).
public struct RequestMetrics: Sendable {
    public static let bounds: [Double] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    public private(set) var counts: [RequestKey: Int] = [:]
    /// Per bucket of `bounds`, plus one for anything slower.
    public private(set) var latencyCounts = [Int](repeating: 0, count: bounds.count + 1)
    public private(set) var latencySum: Double = 0

    public struct RequestKey: Hashable, Sendable, Comparable {
        public let method: String
        public let status: Int
        public static func < (a: RequestKey, b: RequestKey) -> Bool { (a.method, a.status) < (b.method, b.status) }
    }

    public init() {}

    public mutating func record(method: String, status: Int, seconds: Double?) {
        counts[RequestKey(method: method, status: status), default: 0] += 1
        guard let seconds else { return }
        latencyCounts[Self.bounds.firstIndex { seconds <= $0 } ?? Self.bounds.count] += 1
        latencySum += seconds
    }
}
