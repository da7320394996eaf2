import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes a file whole or not at all: into a temporary beside it with its mode, then renamed
/// over `PATH`.
/// A full disk leaves the old file as it was.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String, mode: Int = 0o600) throws {
        // A name of this writer's own: two processes writing one file never share a temporary.
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: mode]) else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw SystemError("cannot write \(path)")
        }
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw SystemError("cannot write \(path): \(reason)")
        }
    }
}
