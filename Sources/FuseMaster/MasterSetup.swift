import Foundation
import FuseAgent
import FuseControl
import FuseModel
import FuseSystem

/// `fuse master init` on disk: the master's state (CA, store, settings, the operator's
/// credential) and its own node (key, CA, config). Nothing is left of either after a failure.
public enum MasterSetup {
    public static func create(_ config: MasterConfig, master: MasterState, node: NodeState) throws {
        let key = WireGuardKey.generatePrivate()
        do {
            // The node folder first: it records whether the state dir is ours to remove.
            try node.createDirectory()
            try master.initialize(config: config, masterPublicKey: key.publicKey)
            try FileManager.default.copyItem(atPath: master.caPath, toPath: node.caPath)
            try StateFile.write(NodeConfig(
                name: config.nodeName, interface: config.interface, masterHost: "127.0.0.1", apiPort: config.apiPort,
                caPin: try master.caPin(), credential: nil, privateKey: key, listenPort: config.wireGuardPort,
                isMaster: true), to: node.configPath)
        } catch {
            master.removeAll()
            node.removeFiles()
            throw error
        }
    }
}
