import Foundation
import FuseControl
import FuseModel
import FuseSystem
import Testing

/// A master's backup, taken while its store is open, restores into another state dir with the
/// same nodes, CA and credential; the file is private; a restore never overwrites a federation.
@Suite struct MasterBackupTests {
    @Test func backupWhileRunningAndRestoreElsewhere() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("fuse-backup-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try await Harness.with { harness in
            _ = try await harness.controlPlane.join(API.JoinRequest(token: try harness.token().token, name: "a1", publicKey: WireGuardKey.generatePrivate().publicKey))
            // The master node's identity lives beside the master's files.
            try FileManager.default.createDirectory(atPath: harness.directory + "/node", withIntermediateDirectories: true)
            try #"{"name":"master"}"#.write(toFile: harness.directory + "/node/node.json", atomically: true, encoding: .utf8)

            let file = scratch + "/master.backup"
            try MasterBackup.write(stateDir: harness.directory, to: file)
            #expect((try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int) == 0o600)
            #expect(try FileManager.default.contentsOfDirectory(atPath: scratch) == ["master.backup"], "no staging left behind")

            let moved = scratch + "/moved"
            try MasterBackup.restore(from: file, stateDir: moved)
            let restored = MasterState(stateDir: moved)
            #expect(try restored.loadConfig().federation == harness.config.federation)
            #expect(try restored.caPEM() == (try MasterState(stateDir: harness.directory).caPEM()))
            #expect(try restored.adminCredential() == (try MasterState(stateDir: harness.directory).adminCredential()))
            let nodes = try SQLiteFederationStore(path: restored.databasePath).nodes()
            #expect(nodes.map(\.name).sorted() == ["a1", "master"])
            #expect((try FileManager.default.attributesOfItem(atPath: restored.caKeyPath)[.posixPermissions] as? Int) == 0o600)

            #expect(throws: MasterBackup.Failure.self) { try MasterBackup.restore(from: file, stateDir: moved) }
            try "not a backup".write(toFile: scratch + "/other", atomically: true, encoding: .utf8)
            #expect(throws: (any Error).self) { try MasterBackup.restore(from: scratch + "/other", stateDir: scratch + "/empty") }
        }
    }
}
