import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes a file whole or not at all: into `PATH.tmp` with its mode, then renamed over `PATH`.
/// A full disk leaves the old file as it was.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String, mode: Int = 0o600) throws {
        let temporary = path + ".tmp"
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
