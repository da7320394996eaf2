import Foundation
import FuseSystem
import Testing

@Suite struct LogRotationTests {
    @Test func aLogOverTheLimitIsKeptOnceAndEmptiedWhileItsWriterGoesOn() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fuse-logs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let big = directory + "/agent.log", small = directory + "/wireguard.log"
        try Data("old rotated\n".utf8).write(to: URL(fileURLWithPath: big + ".1"))
        try Data("small\n".utf8).write(to: URL(fileURLWithPath: small))
        try Data("not a log\n".utf8).write(to: URL(fileURLWithPath: directory + "/map.json"))
        // A writer that holds the log open in append mode, as a daemon's stdout does.
        let writer = open(big, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        #expect(writer >= 0)
        defer { close(writer) }
        let line = String(repeating: "x", count: 99) + "\n"
        for _ in 0..<20 { _ = line.withCString { write(writer, $0, 100) } }

        #expect(LogRotation.logs(in: [directory]) == [big, small])
        #expect(LogRotation.rotate([big, small], maxBytes: 1000) == [big])
        #expect(try String(contentsOfFile: big + ".1", encoding: .utf8) == String(repeating: line, count: 20), "the previous rotation is replaced")
        #expect(try String(contentsOfFile: small, encoding: .utf8) == "small\n", "a log under the limit is left alone")
        #expect((try FileManager.default.attributesOfItem(atPath: big)[.size] as? Int) == 0)
        _ = "after\n".withCString { write(writer, $0, 6) }
        #expect(try String(contentsOfFile: big, encoding: .utf8) == "after\n", "the writer goes on at the start of the emptied log")
        #expect(LogRotation.rotate([big, small], maxBytes: 1000) == [])
    }
}
