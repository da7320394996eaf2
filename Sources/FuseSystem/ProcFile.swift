import Foundation

/// Reads files of /proc whole. Foundation's `String(contentsOfFile:)` stops at the first 4 KiB
/// of a file whose size the kernel reports as 0 — a long mount table lost its later mounts that
/// way, and an engine's data root stayed mounted after leave.
public enum ProcFile {
    public static func text(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return (try? handle.readToEnd()).map { String(decoding: $0 ?? Data(), as: UTF8.self) }
    }
}
