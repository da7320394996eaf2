import FuseModel
import FuseSystem
import Logging

/// The agent's network map on disk (`map.json`), written off the agent's path: the latest map
/// only, so that a burst of versions is one write, and applying a map never waits for its JSON
/// (the hub's lists every node: at 2,000 nodes its write took longer than the rest of a join).
/// A write that fails is logged; it stops nothing, and the next map is written again.
actor MapCache {
    private let path: String
    private let logger: Logger
    private var pending: NetworkMap?
    private var writer: Task<Void, Never>?
    private var stopped = false

    init(path: String, logger: Logger) {
        self.path = path
        self.logger = logger
    }

    /// Writes `map` soon, after the write in progress; a later map replaces one still waiting.
    func store(_ map: NetworkMap) {
        guard !stopped else { return }
        pending = map
        if writer == nil { writer = Task { await self.drain() } }
    }

    /// Returns once every stored map is on disk (or its write failed).
    func flush() async {
        await writer?.value
    }

    /// Drops what waits, waits for the write in progress, and writes nothing more: before a
    /// teardown removes the node's folder.
    func stop() async {
        stopped = true
        pending = nil
        await writer?.value
    }

    private func drain() async {
        while let map = pending {
            pending = nil
            let path = path
            do { try await BlockingWork.run { try StateFile.write(map, to: path) } } catch {
                logger.error("cannot cache the network map; applying it anyway", metadata: ["error": "\(error)"])
            }
        }
        writer = nil
    }
}
