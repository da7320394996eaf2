/// Bounds the joins that enrol at once (store write and map snapshot): the others wait in
/// arrival order, and beyond `queueLimit` waiting a join is refused at once with "busy, try
/// again in 1 s" instead of piling up work that no client waits for any more.
actor JoinAdmission {
    let limit: Int
    let queueLimit: Int
    private var running = 0
    private var queue: [CheckedContinuation<Void, Never>] = []

    init(limit: Int, queueLimit: Int) {
        self.limit = limit
        self.queueLimit = queueLimit
    }

    /// Runs `body` once fewer than `limit` joins are enrolling.
    func admitted<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if running < limit {
            running += 1
        } else {
            guard queue.count < queueLimit else { throw JoinError.busy(waiting: queue.count, retryAfterSeconds: 1) }
            // The slot is handed over by `release` (running stays counted).
            await withCheckedContinuation { queue.append($0) }
        }
        defer { release() }
        return try await body()
    }

    private func release() {
        if queue.isEmpty {
            running -= 1
        } else {
            queue.removeFirst().resume()
        }
    }

    /// Joins enrolling and waiting (tests).
    var counts: (running: Int, waiting: Int) { (running, queue.count) }
}
