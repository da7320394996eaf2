import FuseModel

/// Turns the master's map updates — the changes since the version this node has, or a whole
/// map — back into whole maps for the agent. Keeps the last map it made as the base of the
/// next delta; without one that matches `since` (a fresh start, a map from the disk cache) it
/// asks for a whole map. A master without `/v1/map/updates` (older) gets whole-map polls.
actor MapFollower {
    private var base: NetworkMap?
    private var masterHasUpdates = true

    func map(since: Int64, applied: Int64, wait: Int, client: ControlPlaneClient) async throws -> NetworkMap {
        guard masterHasUpdates else { return try await client.map(since: since, applied: applied, wait: wait) }
        let known = base?.version == since ? base : nil
        let update: MapUpdate
        do { update = try await client.mapUpdate(since: since, applied: applied, wait: wait, full: known == nil) } catch let error as ClientError where error.status == 404 {
            masterHasUpdates = false
            return try await client.map(since: since, applied: applied, wait: wait)
        }
        let map: NetworkMap
        do { map = try update.applied(to: known) } catch {
            // A delta that does not fit what this node has: start again from a whole map.
            base = nil
            throw error
        }
        base = map
        return map
    }
}
