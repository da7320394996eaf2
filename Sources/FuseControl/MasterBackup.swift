import Foundation
import FuseModel
import FuseSystem
import GRDB

/// A consistent copy of a master for moving it to another host: the store (SQLite's online
/// backup, so it can be taken while the master runs), the CA and server keys, the settings, the
/// operator's credential, the hub's workers' endpoints, and the master node's identity (its
/// WireGuard key: every node's hub peer stays valid). One tar file of mode 0600 — it holds every
/// secret of the federation. Not in it: the registry's images and the engine's data.
public enum MasterBackup {
    /// Paths inside the state dir; `fuse.db` is written by the online backup.
    static let files = ["master/config.json", "master/ca.pem", "master/ca-key.pem", "master/server.pem", "master/server-key.pem",
                        "master/admin.credential", "master/hub-endpoints.json", "node/node.json", "node/ca.pem", "node/map.json"]
    static let required: Set = ["master/config.json", "master/ca.pem", "master/ca-key.pem", "master/admin.credential", "node/node.json"]
    static let database = "master/fuse.db"

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Writes the backup of the master in `stateDir` to `file` (replacing it atomically).
    public static func write(stateDir: String, to file: String, runner: any CommandRunning = HostCommandRunner(timeout: .seconds(300))) throws {
        let staging = try temporaryDirectory(near: file)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        for directory in ["master", "node"] {
            try FileManager.default.createDirectory(atPath: staging + "/" + directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        for path in files where FileManager.default.fileExists(atPath: stateDir + "/" + path) {
            try FileManager.default.copyItem(atPath: stateDir + "/" + path, toPath: staging + "/" + path)
        }
        if let missing = required.sorted().first(where: { !FileManager.default.fileExists(atPath: staging + "/" + $0) }) {
            throw Failure("no master to back up in \(stateDir) (\(missing) is missing)")
        }
        do {
            let source = try DatabasePool(path: stateDir + "/" + database)
            let copy = try DatabaseQueue(path: staging + "/" + database)
            try source.backup(to: copy)
        } catch {
            throw Failure("cannot back up the store \(stateDir)/\(database): \(error)")
        }
        let partial = file + ".partial"
        try runner.check(["tar", "-C", staging, "-cf", partial, "master", "node"])
        guard chmod(partial, 0o600) == 0, rename(partial, file) == 0 else {
            try? FileManager.default.removeItem(atPath: partial)
            throw Failure("cannot write \(file): \(String(cString: strerror(errno)))")
        }
    }

    /// Unpacks a backup into `stateDir`, which must hold no master and no node.
    public static func restore(from file: String, stateDir: String, runner: any CommandRunning = HostCommandRunner(timeout: .seconds(300))) throws {
        for path in ["master/config.json", "node/node.json"] where FileManager.default.fileExists(atPath: stateDir + "/" + path) {
            throw Failure("\(stateDir) already holds a federation (\(path)); restore into an empty state dir")
        }
        let listed = try runner.check(["tar", "-tf", file]).split(separator: "\n").map { $0.hasPrefix("./") ? String($0.dropFirst(2)) : String($0) }
        let allowed = Set(files + [database, "master/", "node/", "master", "node"])
        if let foreign = listed.first(where: { !allowed.contains($0) }) { throw Failure("\(file) is not a FUSE master backup (it holds \(foreign))") }
        guard required.isSubset(of: listed), listed.contains(database) else { throw Failure("\(file) is not a complete FUSE master backup") }
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try runner.check(["tar", "-C", stateDir, "--no-same-owner", "-xf", file])
        for directory in ["master", "node"] { _ = chmod(stateDir + "/" + directory, 0o700) }
        for path in files + [database] where FileManager.default.fileExists(atPath: stateDir + "/" + path) { _ = chmod(stateDir + "/" + path, 0o600) }
    }

    private static func temporaryDirectory(near file: String) throws -> String {
        let directory = (file as NSString).deletingLastPathComponent
        let path = (directory.isEmpty ? "." : directory) + "/.fuse-backup-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        return path
    }
}
