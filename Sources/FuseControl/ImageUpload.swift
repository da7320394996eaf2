import Foundation
import Hummingbird
import NIOCore

/// Receives an image archive, streamed to a file (an image can be far larger than memory should
/// hold), refusing it as soon as it grows over the limit.
enum ImageUpload {
    /// Writes the body to a new 0600 file in `directory` and returns its path; nothing is left
    /// behind when it fails.
    static func receive(_ body: RequestBody, into directory: String, limit: Int) async throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let path = "\(directory)/upload-\(UUID().uuidString).tar"
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
              let file = FileHandle(forWritingAtPath: path) else { throw StorageFull(path: directory) }
        var size = 0
        do {
            for try await buffer in body {
                size += buffer.readableBytes
                guard size <= limit else { throw WorkloadError.imageTooLarge(limit: limit) }
                do { try file.write(contentsOf: Data(buffer.readableBytesView)) } catch { throw StorageFull(path: directory) }
            }
            try file.close()
            guard size > 0 else { throw WorkloadError.emptyImage }
            return path
        } catch {
            try? file.close()
            try? FileManager.default.removeItem(atPath: path)
            throw error
        }
    }
}
