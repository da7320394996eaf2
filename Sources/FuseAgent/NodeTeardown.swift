import Foundation
import FuseModel
import FuseSystem
import Logging

/// Removes everything FUSE created on a node's host, in the order that leaves nothing behind:
/// agent, wireguard-go (with its interface and socket), nftables table, sysctls, files.
public struct NodeTeardown: Sendable {
    let state: NodeState
    let runner: any CommandRunning

    public init(state: NodeState, runner: any CommandRunning = HostCommandRunner()) {
        self.state = state
        self.runner = runner
    }

    /// Stops the agent process (unless it is the caller itself).
    public func stopAgent() {
        if let pid = state.pid(at: state.agentPIDPath), pid != getpid() { Daemon.stop(pid, timeout: .seconds(5)) }
    }

    /// Stops the engine, the registry and the data plane and undoes host changes; keeps the
    /// node's files. With `keepEngineData` the engine keeps its images and Swarm membership
    /// for the next start (`fuse master stop`); else it leaves the Swarm and its data goes.
    public func removeHostObjects(interface: String, keepEngineData: Bool = false) {
        let engine = state.engine(interface: interface)
        if keepEngineData { engine.stop() } else { engine.remove() }
        ImageRegistry(directory: state.registryDirectory, pullAddress: "").stop()
        let wireGuard = UserspaceWireGuard(interface: interface)
        wireGuard.stop(pid: state.pid(at: state.wireGuardPIDPath))
        // A wireguard-go not started by us (e.g. a previous run whose PID file was lost).
        if wireGuard.isResponding, HostNetwork(runner: runner).linkExists(interface), let pid = Self.pidOfWireGuard(interface: interface) {
            wireGuard.stop(pid: pid)
        }
        try? HostNetwork(runner: runner).deleteLink(interface)
        let table = NodeRuleset.tableName(interface: interface)
        if runner.succeeds(["nft", "list", "table", "inet", table]) {
            _ = runner.succeeds(["nft", "delete", "table", "inet", table])
        }
        let changes = state.hostChanges()
        if let before = changes.ipForwardBefore { try? Sysctl().set("net.ipv4.ip_forward", before) }
        if changes.createdRunDirectory { Self.removeIfEmpty(UAPISocket.directory) }
        if changes.createdContainerdDirectory {
            Self.removeIfEmpty(NodeState.containerdRunDirectory + "/s")
            Self.removeIfEmpty(NodeState.containerdRunDirectory)
        }
    }

    private static func removeIfEmpty(_ directory: String) {
        if (try? FileManager.default.contentsOfDirectory(atPath: directory))?.isEmpty == true {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Removes the node's files, and the state dir itself when FUSE created it and nothing
    /// else is left in it.
    public func removeFiles() {
        let createdStateDir = state.hostChanges().createdStateDir
        try? FileManager.default.removeItem(atPath: state.directory)
        if createdStateDir, (try? FileManager.default.contentsOfDirectory(atPath: state.root))?.isEmpty == true {
            try? FileManager.default.removeItem(atPath: state.root)
        }
    }

    public func all(interface: String) {
        stopAgent()
        removeHostObjects(interface: interface)
        removeFiles()
    }

    /// Finds a `wireguard-go IFNAME` process by its command line.
    static func pidOfWireGuard(interface: String) -> pid_t? {
        Daemon.commandLines().first { $0.arguments.count == 2 && $0.arguments[0].hasSuffix("wireguard-go") && $0.arguments[1] == interface }?.pid
    }
}
