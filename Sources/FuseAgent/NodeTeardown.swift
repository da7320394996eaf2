import Foundation
import FuseModel
import FuseSystem

/// A node's leave on its own host, in the order that leaves nothing behind: its host objects
/// (engine, registry, WireGuard with its interface, nftables table, sysctls) through the host
/// plane, then its files.
public struct NodeTeardown: Sendable {
    let state: NodeState
    let host: any HostPlane

    public init(state: NodeState, host: any HostPlane) {
        self.state = state
        self.host = host
    }

    /// Everything: host objects and files. `registry`: the node runs the federation's registry
    /// (the master).
    public func all(interface: String, registry: Bool = false) async {
        await host.tearDown(interface: interface, TeardownScope(registry: registry))
        state.removeFiles()
    }
}

extension NodeState {
    /// Removes the node's files, and the state dir itself when FUSE created it and nothing
    /// else is left in it.
    public func removeFiles() {
        let createdStateDir = hostChanges().createdStateDir
        try? FileManager.default.removeItem(atPath: directory)
        if createdStateDir, (try? FileManager.default.contentsOfDirectory(atPath: root))?.isEmpty == true {
            try? FileManager.default.removeItem(atPath: root)
        }
    }
}
