import Foundation
import FuseAgent
import FuseControl
import FuseModel
import FuseSystem
import Logging
import ServiceLifecycle

/// The master's agent takes its map straight from the control plane in the same process.
struct LocalMapSource: MapSource {
    let controlPlane: ControlPlane
    let node: String

    /// At most 2 s apart even without a new version: the hub's map also carries where its
    /// workers were last seen (`HubEndpoints`, not versioned), which a hub restarted after a
    /// crash of its wireguard-go, or started from a cached map after a reboot, needs at once.
    func map(since: Int64, applied: Int64, wait: Int) async throws -> NetworkMap {
        try await controlPlane.map(for: node, since: since, applied: applied, wait: .seconds(min(wait, 2)))
    }

    func heartbeat(_ beat: API.Heartbeat) async throws {
        await controlPlane.heartbeat(node, appliedVersion: beat.mapVersion)
    }

    func applied(version: Int64) async {
        await controlPlane.hubApplied(version: version)
    }

    func swarmJoin() async throws -> SwarmJoin {
        throw SystemError("the master initialises the Swarm; it does not join one")
    }

    func swarmJoined(id: String) async throws {
        try controlPlane.swarmJoined(node: node, id: id)
    }
}

