import FuseModel
import FuseSystem
import Logging

/// The agent's network map on disk (`map.json`), written off the agent's path: the latest map
/// only, at most one write per `spacing` (a burst of versions is one or two writes), and
/// applying a map never waits for its JSON (the hub's lists every node: at 2,000 nodes its
/// encoding took longer than the rest of a join, and one per join was 8 % of the master's CPU
/// while nodes joined). A write that fails is logged; it stops nothing, and the next map is
/// written again. `flush` and `stop` cut the spacing short.
actor MapCache {
    private let path: String
    private let logger: Logger
    private let spacing: Duration
    private var pending: NetworkMap?
    private var writer: Task<Void, Never>?
    /// The wait between two writes; cut short by `flush` and `stop` (the writer itself is not
    /// cancelled: a cancelled task's write would not run).
    private var spaced: Task<Void, Never>?
    private var hurry = false
    private var stopped = false

    init(path: String, logger: Logger, spacing: Duration = .seconds(1)) {
        self.path = path
        self.logger = logger
        self.spacing = spacing
    }

    /// Writes `map` soon, after the write in progress; a later map replaces one still waiting.
    func store(_ map: NetworkMap) {
        guard !stopped else { return }
        pending = map
        if writer == nil { writer = Task { await self.drain() } }
    }

    /// Returns once every stored map is on disk (or its write failed).
    func flush() async {
        hurry = true
        spaced?.cancel()
        await writer?.value
    }

    /// Drops what waits, waits for the write in progress, and writes nothing more: before a
    /// teardown removes the node's folder.
    func stop() async {
        stopped = true
        pending = nil
        hurry = true
        spaced?.cancel()
        await writer?.value
    }

    private func drain() async {
        while let map = pending {
            pending = nil
            let path = path
            do { try await BlockingWork.run { try StateFile.write(map, to: path) } } catch {
                logger.error("cannot cache the network map; applying it anyway", metadata: ["error": "\(error)"])
            }
            // Maps stored meanwhile wait (the latest only).
            guard !hurry else { continue }
            let spacing = spacing
            let wait = Task { _ = try? await Task.sleep(for: spacing) }
            spaced = wait
            await wait.value
            spaced = nil
        }
        writer = nil
        hurry = false
    }
}
