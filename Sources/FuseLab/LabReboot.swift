import Foundation
import FuseModel
import FuseSystem

extension Lab {
    /// Simulates a power cycle of a federated node (requires root): every process in its
    /// namespace is SIGKILLed (its daemon, wireguard-go, engine), and what a reboot clears goes —
    /// its WireGuard interface (with its addresses and routes), FUSE's nftables table, the
    /// wireguard-go socket and the engine's run folder. Its state dir stays, as a disk does.
    /// Start its daemon afterwards as its unit would (`startDaemon`).
    public func simulateReboot(_ id: String) throws {
        let node = try self.node(id)
        guard let interface = node.interface else { throw LabError("\(id) is not a federated node") }
        let me = getpid()
        for _ in 0..<5 {
            let pids = Lab.namespacePIDs([node.namespace], runner: runner).filter { $0 != me && Daemon.isAlive($0) }
            if pids.isEmpty { break }
            pids.forEach { kill($0, SIGKILL) }
            _ = pollUntil(.seconds(3)) { pids.allSatisfy { !Daemon.isAlive($0) } }
        }
        let table = NodeRuleset.tableName(interface: interface)
        _ = try? exec(id, ["sh", "-c", "ip link delete \(shellQuote(interface)) 2>/dev/null; nft delete table inet \(shellQuote(table)) 2>/dev/null; true"])
        try? FileManager.default.removeItem(atPath: "\(LabAddressPlan.wireGuardSocketRoot)/\(interface).sock")
        let engine = EngineNames(interface: interface).runDirectory
        DockerEngine.unmountAll(under: engine)
        try? FileManager.default.removeItem(atPath: engine)
    }

    /// Starts the node's daemon in the background as its systemd unit would: `fuse agent run`,
    /// or `fuse master run` on the master; its PID.
    public func startDaemon(_ id: String, fuse: String, master: Bool) throws -> pid_t {
        let node = try self.node(id)
        guard let stateDir = node.stateDir else { throw LabError("\(id) is not a federated node") }
        let log = stateDir + (master ? "/master/master.log" : "/node/agent.log")
        return try Daemon.spawn(try execArguments(id, [fuse, master ? "master" : "agent", "run"]), logFile: log, environment: try execEnvironment(id))
    }
}
