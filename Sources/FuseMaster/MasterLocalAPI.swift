import Foundation
import FuseAgent
import FuseControl
import FuseModel
import FuseSystem
import Logging
import ServiceLifecycle

/// The master's own node on the local API: `fuse status` and `fuse master start` read it there,
/// as on every node. Joining and leaving are not the master's.
struct MasterLocalAPI: LocalAPIHandler {
    let agent: Agent

    func status() async -> AgentStatus? { await agent.status() }

    func join(_ request: LocalAPI.JoinRequest, steps: Steps) async throws -> LocalAPI.JoinResult {
        throw LocalAPIError(409, "this is the federation's master; nodes join it with a token (`fuse token create`)")
    }

    func leave(_ request: LocalAPI.LeaveRequest, steps: Steps) async throws -> LocalAPI.LeaveResult {
        throw LocalAPIError(409, "this is the federation's master: use `fuse master destroy`")
    }

    func expose(_ request: API.ExposeRequest) async throws -> Exposure {
        throw LocalAPIError(409, "on the master, `fuse expose` uses the operator's credential")
    }

    func unexpose(_ name: String) async throws {
        throw LocalAPIError(409, "on the master, `fuse unexpose` uses the operator's credential")
    }

    func delivered() async {}
}

