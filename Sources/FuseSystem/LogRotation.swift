import Foundation

/// Keeps every log FUSE writes bounded in size: a log over `maxBytes` is copied to `LOG.1`
/// (replacing the previous one) and emptied in place. Writers keep their descriptor (FUSE opens
/// logs with O_APPEND), so they go on at the start of the emptied file — logrotate's
/// "copytruncate". At most about 2 × `maxBytes` per log stay on disk.
public enum LogRotation {
    public static let maxBytes = 8 << 20

    /// The logs (`*.log`) directly inside `directories`.
    public static func logs(in directories: [String]) -> [String] {
        directories.flatMap { directory in
            ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".log") }.sorted().map { directory + "/" + $0 }
        }
    }

    /// Rotates each log that is over the limit; returns the ones it rotated.
    @discardableResult
    public static func rotate(_ paths: [String], maxBytes: Int = maxBytes) -> [String] {
        paths.filter { path in
            guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > maxBytes else { return false }
            let old = path + ".1"
            try? FileManager.default.removeItem(atPath: old)
            guard (try? FileManager.default.copyItem(atPath: path, toPath: old)) != nil else { return false }
            return truncate(path, 0) == 0
        }
    }
}
