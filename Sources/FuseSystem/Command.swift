import CSpawn
import Foundation
import FuseModel
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

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
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

/// Runs real processes with posix_spawn: only stdin, stdout and stderr are passed on (no
/// other descriptor of ours leaks into the child), both outputs are read with poll, and the
/// child is reaped with waitpid. Returns when the child exits, even if a background process
/// it started still holds its output open. With a timeout the child runs in its own process
/// group, which is killed when the time is up (status 124, like coreutils `timeout`).
/// (Foundation's `Process` was seen to miss a child's exit and hang in `waitUntilExit`.)
public struct HostCommandRunner: CommandRunning {
    public var timeout: Duration?

    public init(timeout: Duration? = nil) { self.timeout = timeout }

    public func run(_ argv: [String], input: String? = nil, environment: [String: String]? = nil) throws -> CommandResult {
        guard !argv.isEmpty else { throw SystemError("empty command") }
        var stdinPipe: [Int32] = [-1, -1], stdoutPipe: [Int32] = [-1, -1], stderrPipe: [Int32] = [-1, -1]
        guard pipe(&stdinPipe) == 0, pipe(&stdoutPipe) == 0, pipe(&stderrPipe) == 0 else {
            throw SystemError("pipe: \(String(cString: strerror(errno)))")
        }
        // Children started concurrently from other threads must not inherit these.
        (stdinPipe + stdoutPipe + stderrPipe).forEach { _ = fcntl($0, F_SETFD, FD_CLOEXEC) }
        let pid: pid_t
        do {
            pid = try Spawn.start(argv, stdin: .fd(stdinPipe[0]), stdout: .fd(stdoutPipe[1]), stderr: .fd(stderrPipe[1]),
                                  environment: environment ?? [:], session: timeout == nil ? .inherit : .newGroup)
        } catch {
            (stdinPipe + stdoutPipe + stderrPipe).forEach { close($0) }
            throw error
        }
        close(stdinPipe[0]); close(stdoutPipe[1]); close(stderrPipe[1])
        if let input {
            let bytes = Array(input.utf8)
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { write(stdinPipe[1], $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                sent += n
            }
        }
        close(stdinPipe[1])
        let outcome = Self.collect(pid: pid, stdoutPipe[0], stderrPipe[0], deadline: timeout.map { ContinuousClock.now + $0 })
        close(stdoutPipe[0]); close(stderrPipe[0])
        return CommandResult(status: outcome.status, stdout: String(decoding: outcome.out, as: UTF8.self), stderr: String(decoding: outcome.err, as: UTF8.self))
    }

    /// Reads both outputs until they close or the child has exited, and reaps it.
    static func collect(pid: pid_t, _ out: Int32, _ err: Int32, deadline: ContinuousClock.Instant?) -> (status: Int32, out: [UInt8], err: [UInt8]) {
        var outputs: [[UInt8]] = [[], []]
        var fds = [pollfd(fd: out, events: Int16(POLLIN), revents: 0), pollfd(fd: err, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 65536)
        var status: Int32?
        func drain(_ i: Int) {
            let n = buffer.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, $0.count) }
            if n > 0 { outputs[i] += buffer[0..<n] } else if n == 0 || errno != EINTR { fds[i].fd = -1 }
        }
        while fds.contains(where: { $0.fd >= 0 }) {
            // Once both are closed we stop polling; until then check on the child every 20 ms.
            let ready = poll(&fds, nfds_t(fds.count), 20)
            if ready > 0 {
                for i in fds.indices where fds[i].fd >= 0 && fds[i].revents != 0 { drain(i) }
                continue
            }
            if status == nil, let exited = reap(pid, block: false) {
                status = exited
                // The child is gone; take what is buffered and stop (a background process it
                // started may hold the pipes open for a long time).
                for i in fds.indices where fds[i].fd >= 0 {
                    _ = fcntl(fds[i].fd, F_SETFL, fcntl(fds[i].fd, F_GETFL) | O_NONBLOCK)
                    while fds[i].fd >= 0 { drain(i) }  // ends at EOF or EAGAIN
                }
            }
            if let deadline, status == nil, ContinuousClock.now >= deadline {
                kill(-pid, SIGKILL)
                _ = reap(pid, block: true)
                return (124, outputs[0], outputs[1])
            }
        }
        if let status { return (status, outputs[0], outputs[1]) }
        if let deadline {
            while ContinuousClock.now < deadline {
                if let exited = reap(pid, block: false) { return (exited, outputs[0], outputs[1]) }
                usleep(5_000)
            }
            kill(-pid, SIGKILL)
            _ = reap(pid, block: true)
            return (124, outputs[0], outputs[1])
        }
        return (reap(pid, block: true) ?? 255, outputs[0], outputs[1])
    }

    /// waitpid; the exit status, or 128 + signal. nil while the child runs (non-blocking).
    static func reap(_ pid: pid_t, block: Bool) -> Int32? {
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, block ? 0 : WNOHANG)
            if r < 0 && errno == EINTR { continue }
            guard r == pid else { return r < 0 ? 255 : nil }
            // WIFEXITED / WEXITSTATUS / WTERMSIG by hand: the C macros are not visible in Swift.
            return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        }
    }
}

/// posix_spawn with the child's standard descriptors chosen and every other descriptor closed.
public enum Spawn {
    public enum Target {
        case fd(Int32)
        case file(String, append: Bool)
        case devNull
    }

    /// glibc's POSIX_SPAWN_SETSID (only visible to C with _GNU_SOURCE).
    static let setSID: Int32 = 0x80

    public enum Session {
        /// Same session and process group as the caller.
        case inherit
        /// A process group of its own (so that a timeout can kill it and its children).
        case newGroup
        /// A session of its own (daemons).
        case newSession
    }

    public static func start(_ argv: [String], stdin: Target, stdout: Target, stderr: Target, environment: [String: String], session: Session) throws -> pid_t {
        guard let program = argv.first else { throw SystemError("empty command") }
        guard let path = Executables.find(program) else {
            throw SystemError("\(program) not found on PATH; install it (see README)")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, fd) in [(stdin, Int32(0)), (stdout, Int32(1)), (stderr, Int32(2))] {
            switch target {
            case .fd(let source): posix_spawn_file_actions_adddup2(&actions, source, fd)
            case .file(let path, let append):
                posix_spawn_file_actions_addopen(&actions, fd, path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0o600)
            case .devNull: posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
            }
        }
        // Close every other descriptor that is open in this process (sockets, pipes of other
        // children): a daemon must not hold our listening socket or a caller's pipe. One
        // close_range in the child: a master with 2,000 nodes holds 4,000 descriptors, and one
        // close action each made every spawn (each join's `nft`) cost in proportion to them.
        let closing = fuse_spawn_addclosefrom(&actions, 3)
        guard closing == 0 else { throw SystemError("cannot start \(path): \(String(cString: strerror(closing)))") }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        switch session {
        case .inherit: break
        case .newGroup:
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        case .newSession: flags |= setSID
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
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
        guard rc == 0 else { throw SystemError("cannot start \(path): \(String(cString: strerror(rc)))") }
        return pid
    }
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

    /// Spawns `argv` detached (own session, stdin from /dev/null, stdout and stderr appended
    /// to `logFile`) and returns its PID.
    public static func spawn(_ argv: [String], logFile: String, environment: [String: String] = [:]) throws -> pid_t {
        let pid = try Spawn.start(argv, stdin: .devNull, stdout: .file(logFile, append: true), stderr: .file(logFile, append: true),
                                  environment: environment, session: .newSession)
        return pid
    }

    /// Spawns a daemon (see `spawn`) and waits until `ready` holds. When the daemon exits
    /// first, or `timeout` passes, it is stopped and the error names its log's last line.
    public static func spawnAndWait(_ argv: [String], logFile: String, environment: [String: String] = [:], timeout: Duration,
                                    every interval: Duration = .milliseconds(50), ready: () -> Bool) throws -> pid_t {
        let name = argv.prefix(2).map { ($0 as NSString).lastPathComponent }.joined(separator: " ")
        let pid = try spawn(argv, logFile: logFile, environment: environment)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard isAlive(pid) else { throw SystemError("\(name) stopped at once: \(lastLine(of: logFile) ?? "see \(logFile)")") }
            if ready() { return pid }
            usleep(UInt32(interval.inSeconds * 1_000_000))
        }
        stop(pid)
        throw SystemError("\(name) was not ready within \(timeout): \(lastLine(of: logFile) ?? "see \(logFile)")")
    }

    /// The last line of a log file, or nil.
    public static func lastLine(of path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8))?.split(separator: "\n").last.map(String.init)
    }

    /// The running processes (zombies excluded) with their argument vectors, from /proc.
    public static func commandLines() -> [(pid: pid_t, arguments: [String])] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = pid_t(entry), let arguments = arguments(of: pid), isAlive(pid) else { return nil }
            return (pid, arguments)
        }
    }

    /// A process's command name (`/proc/PID/comm`); nil when there is no such process.
    public static func name(of pid: pid_t) -> String? {
        ProcFile.text("/proc/\(pid)/comm")?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A process's argument vector, from /proc; nil when there is no such process.
    public static func arguments(of pid: pid_t) -> [String]? {
        FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map { $0.split(separator: 0).map { String(decoding: $0, as: UTF8.self) } }
    }

    /// The PID written in a pid file, or nil.
    public static func pid(inFile path: String) -> pid_t? {
        (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Whether a process with this PID exists (and is not a zombie).
    public static func isAlive(_ pid: pid_t) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        if let stat = ProcFile.text("/proc/\(pid)/stat"),
           let close = stat.lastIndex(of: ")") {
            let state = stat[stat.index(close, offsetBy: 2)]
            guard state == "Z" || state == "X" else { return true }
            // A zombie leader whose other threads still run is a process still exiting (a Swift
            // program's main thread ends before its other threads do): not gone yet.
            return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []).count > 1
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

/// An error as one line (nft and ip may print several).
public func oneLine(_ error: Error) -> String {
    String(describing: error).split(whereSeparator: \.isNewline)
        .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: "; ")
}
