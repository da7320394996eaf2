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

    func map(since: Int64, wait: Int) async throws -> NetworkMap {
        try await controlPlane.map(for: node, since: since, wait: .seconds(wait))
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

