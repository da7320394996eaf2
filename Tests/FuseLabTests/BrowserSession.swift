import Foundation
import FuseLab
import Testing

/// Headless Chromium in a lab node's namespace, driven through `Scripts/dashboard_browser.py`
/// (selenium): one JSON command per line, one JSON answer per line.
final class BrowserSession {
    struct Answer: Decodable {
        let ok: Bool
        let error: String?
        let seconds: Double?
        let value: JSONValue?
    }

    /// What a script returns, loosely typed.
    enum JSONValue: Decodable, CustomStringConvertible {
        case number(Double), string(String), bool(Bool), array([JSONValue]), object([String: JSONValue]), null

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() { self = .null }
            else if let value = try? container.decode(Bool.self) { self = .bool(value) }
            else if let value = try? container.decode(Double.self) { self = .number(value) }
            else if let value = try? container.decode(String.self) { self = .string(value) }
            else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
            else { self = .object(try container.decode([String: JSONValue].self)) }
        }

        var description: String {
            switch self {
            case .number(let n): return String(n)
            case .string(let s): return s
            case .bool(let b): return String(b)
            case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
            case .object(let o): return "{" + o.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
            case .null: return "null"
            }
        }

        var number: Double? { if case .number(let n) = self { return n }; return nil }
        var array: [JSONValue] { if case .array(let a) = self { return a }; return [] }
        subscript(key: String) -> JSONValue? { if case .object(let o) = self { return o[key] }; return nil }
    }

    static var script: String {
        LabSupport.packageRoot.appendingPathComponent("Tests/FuseLabTests/Scripts/dashboard_browser.py").path
    }

    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var pending = Data()

    /// Starts the driver in `node`'s namespace; the browser trusts certificates under the CA
    /// with this public-key pin (hex SHA-256 of its SubjectPublicKeyInfo).
    init(lab: Lab, node: String, caPin: String, log: String) throws {
        let argv = try lab.execArguments(node, ["/usr/bin/python3", Self.script, caPin])
        process.executableURL = URL(fileURLWithPath: "/usr/bin/" + argv[0])
        process.arguments = Array(argv.dropFirst())
        process.standardInput = input
        process.standardOutput = output
        FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: log)
        try process.run()
    }

    func close() {
        if process.isRunning {
            try? input.fileHandleForWriting.write(contentsOf: Data("{\"cmd\":\"quit\"}\n".utf8))
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning, Date() < deadline { usleep(50_000) }
            if process.isRunning { process.terminate() }
        }
    }

    @discardableResult
    func send(_ command: [String: Any], sourceLocation: SourceLocation = #_sourceLocation) throws -> Answer {
        let data = try JSONSerialization.data(withJSONObject: command)
        try input.fileHandleForWriting.write(contentsOf: data + Data("\n".utf8))
        while !pending.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw LabError("the browser driver ended (see its log)") }
            pending += chunk
        }
        let end = try #require(pending.firstIndex(of: UInt8(ascii: "\n")))
        let line = pending[pending.startIndex..<end]
        pending = Data(pending[(end + 1)...])
        let answer = try JSONDecoder().decode(Answer.self, from: line)
        if let error = answer.error { Issue.record("browser: \(command["cmd"] ?? ""): \(error)", sourceLocation: sourceLocation) }
        return answer
    }

    /// Waits until the page's expression holds; records a failure unless within `timeout`.
    @discardableResult
    func wait(_ what: String, _ js: String, timeout: Double, sourceLocation: SourceLocation = #_sourceLocation) throws -> Answer {
        let answer = try send(["cmd": "wait", "js": js, "timeout": timeout], sourceLocation: sourceLocation)
        #expect(answer.ok, "\(what): not within \(timeout) s (last value \(answer.value?.description ?? "none"))", sourceLocation: sourceLocation)
        Swift.print("browser: \(what) after \(String(format: "%.2f", answer.seconds ?? -1)) s")
        return answer
    }

    func eval(_ js: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONValue? {
        try send(["cmd": "eval", "js": js], sourceLocation: sourceLocation).value
    }
}
