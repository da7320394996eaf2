/// Work that many callers ask for and one run serves (a new map snapshot after a burst of
/// joins): runs one at a time; a caller returns after a run that started after it asked,
/// and every caller that asked while a run was going shares the next one. Callers wait
/// without holding a thread.
actor CoalescedWork {
    private var asked = 0
    private var running = false
    private var waiters: [(ticket: Int, continuation: CheckedContinuation<Void, any Error>)] = []

    /// Returns after a run of `work` (every caller passes the same work) that started after
    /// this call.
    func run(_ work: @escaping @Sendable () async throws -> Void) async throws {
        asked += 1
        let ticket = asked
        try await withCheckedThrowingContinuation { continuation in
            waiters.append((ticket, continuation))
            if !running {
                running = true
                Task { await self.drain(work) }
            }
        }
    }

    /// Runs the work while someone asked since the last run started; each run answers the
    /// callers that asked before it started.
    private func drain(_ work: @Sendable () async throws -> Void) async {
        while let covered = waiters.map(\.ticket).max() {
            let result: Result<Void, any Error>
            do { try await work(); result = .success(()) } catch { result = .failure(error) }
            runs += 1
            let done = waiters.filter { $0.ticket <= covered }
            waiters.removeAll { $0.ticket <= covered }
            done.forEach { $0.continuation.resume(with: result) }
        }
        running = false
    }

    /// Runs so far (tests).
    private(set) var runs = 0
}
