import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An error from the host boundary: what was run, and what it said.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The result of one finished command.
public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    public var succeeded: Bool { status == 0 }
}

/// Runs programs on the host. Every mutation of the host that FUSE makes goes through this
/// type or `UAPISocket`, so that a recording fake can stand in for it in unit tests.
public protocol CommandRunning: Sendable {
    func run(_ argv: [String], input: String?, environment: [String: String]?) throws -> CommandResult
}

extension CommandRunning {
    /// Runs `argv` and throws with its stderr when it exits non-zero.
    @discardableResult
    public func check(_ argv: [String], input: String? = nil) throws -> String {
        let result = try run(argv, input: input, environment: nil)
        guard result.succeeded else {
            let detail = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw SystemError("\(argv.joined(separator: " ")) failed (exit \(result.status))\(detail.isEmpty ? "" : ": \(detail)")")
        }
        return result.stdout
    }

    /// Runs `argv` and reports only whether it succeeded.
    public func succeeds(_ argv: [String], input: String? = nil) -> Bool {
        (try? run(argv, input: input, environment: nil).succeeded) ?? false
    }
}

/// Runs real processes (Foundation `Process`), resolving the program on PATH.
public struct HostCommandRunner: CommandRunning {
    public init() {}

    public func run(_ argv: [String], input: String? = nil, environment: [String: String]? = nil) throws -> CommandResult {
        guard let program = argv.first else { throw SystemError("empty command") }
        guard let path = Executables.find(program) else {
            throw SystemError("\(program) not found on PATH; install it (see README)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = Array(argv.dropFirst())
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let inPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inPipe
        try process.run()
        if let input {
            inPipe.fileHandleForWriting.write(Data(input.utf8))
            try? inPipe.fileHandleForWriting.close()
        }
        // Read both pipes concurrently so that neither can fill up and block the child.
        let errBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let errData = errBox.data
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// Holds bytes read on another thread; the DispatchGroup orders the write before the read.
private final class DataBox: @unchecked Sendable {
    var data = Data()
}

public enum Executables {
    /// The absolute path of `program` on PATH (or `program` itself when it holds a slash).
    public static func find(_ program: String) -> String? {
        if program.contains("/") {
            return FileManager.default.isExecutableFile(atPath: program) ? program : nil
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        for dir in path.split(separator: ":") + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
            let candidate = "\(dir)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The path of the running executable.
    public static var current: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}

/// Starts processes that outlive their parent (daemons): own session, stdin from /dev/null,
/// stdout and stderr appended to a log file.
public enum Daemon {
    /// glibc's POSIX_SPAWN_SETSID (only visible to C with _GNU_SOURCE).
    static let posixSpawnSetSID: Int32 = 0x80

    /// Spawns `argv` detached and returns its PID.
    public static func spawn(_ argv: [String], logFile: String, environment: [String: String] = [:]) throws -> pid_t {
        guard let program = argv.first, let path = Executables.find(program) else {
            throw SystemError("\(argv.first ?? "") not found on PATH")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logFile, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(posixSpawnSetSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attributes, cArgs, cEnv)
        guard rc == 0 else { throw SystemError("posix_spawn \(path): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// Whether a process with this PID exists (and is not a zombie).
    public static func isAlive(_ pid: pid_t) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")") {
            let state = stat[stat.index(close, offsetBy: 2)]
            return state != "Z" && state != "X"
        }
        return true
    }

    /// Sends SIGTERM, waits up to `timeout` for the process to go, then SIGKILL.
    /// Reaps the child when it is ours.
    public static func stop(_ pid: pid_t, timeout: Duration = .seconds(3)) {
        guard isAlive(pid) else { return }
        kill(pid, SIGTERM)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            var status: Int32 = 0
            _ = waitpid(pid, &status, WNOHANG)
            if !isAlive(pid) { return }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, WNOHANG)
        for _ in 0..<100 where isAlive(pid) { usleep(10_000) }
    }
}
