import ArgumentParser
import Foundation
import FuseModel
import FuseLab
import FuseSystem
#if canImport(Glibc)
import Glibc
#endif

/// Brings a lab up for one benchmark part, runs `body`, and tears the lab down at the end —
/// also on failure, Ctrl-C or SIGTERM.
func withBenchLab<T>(prefix: String, apiPort: Int, wgPort: Int, udpBlockedDomain: Bool = false, progress: Progress, _ body: (Lab) throws -> T) throws -> T {
    // The lab goes down once, whichever of the signal handler and the end of the run gets there first.
    let teardown = LabTeardownOnce(prefix: prefix)
    let signals = teardown.handleSignals()
    progress("lab '\(prefix)' up")
    let lab = try Lab.up(prefix: prefix, apiPort: apiPort, wgPort: wgPort, udpBlockedDomain: udpBlockedDomain)
    guard teardown.labIsUp() else {
        for problem in teardown.tearDown() { progress("warning: teardown: \(problem)") }
        FileHandle.standardError.write(Data("fuse-lab: interrupted; lab '\(prefix)' torn down\n".utf8))
        Foundation.exit(130)
    }
    defer {
        progress("lab '\(lab.prefix)' down")
        for problem in teardown.tearDown() { progress("warning: teardown: \(problem)") }
        // Interrupted: the signal handler exits with status 130 once the lab is down.
        while teardown.interrupted { pause() }
        signals.forEach { $0.cancel() }
    }
    return try body(lab)
}

/// A private copy of the fuse binary in the lab's run directory: a rebuild of the shared
/// .build during the bench would otherwise swap the binary under the running daemons.
func copyFuse(_ fusePath: String, into lab: Lab) throws -> String {
    let copy = lab.topology.runDirectory + "/fuse"
    do {
        try FileManager.default.copyItem(atPath: URL(fileURLWithPath: fusePath).resolvingSymlinksInPath().path, toPath: copy)
    } catch {
        throw LabError("cannot copy \(fusePath) to \(copy): \(error.localizedDescription)")
    }
    return copy
}

/// The output folder of `fuse-lab bench`: CSV, SVG, each part's JSON and report.md.
struct BenchOutput {
    let directory: String

    init(_ directory: String) throws {
        self.directory = directory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw LabError("cannot create \(directory): \(error.localizedDescription)")
        }
    }

    /// Writes the files; their paths.
    func write(_ files: [(String, String)]) throws -> [String] {
        try files.map { name, text in
            let path = directory + "/" + name
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw LabError("cannot write \(path): \(error.localizedDescription)")
            }
            return path
        }
    }

    /// Writes a part's JSON, then report.md from every part file there is; both paths.
    func record<T>(_ name: String, _ part: BenchPart<T>) throws -> [String] {
        let json = String(decoding: try benchEncoder().encode(part), as: UTF8.self) + "\n"
        return try write([(name, json)]) + [try writeReport()]
    }

    func writeReport() throws -> String {
        try write([("report.md", PaperReport.render(try PaperResults.load(from: directory)))])[0]
    }
}

/// When a part started and how loaded the machine was then; `context` closes it.
struct BenchClock {
    let part: String
    let started = Date()
    let start = ContinuousClock.now
    let loadBefore = BenchClock.load()

    static func load() -> Double {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.flatMap { Double($0) } ?? 0
    }

    func context() -> BenchContext {
        var name = utsname()
        uname(&name)
        let kernel = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        let memory = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)).flatMap(Self.memTotalMiB) ?? 0
        return BenchContext(part: part, started: started, seconds: (ContinuousClock.now - start).inSeconds,
                            cores: ProcessInfo.processInfo.activeProcessorCount, memoryMiB: memory, kernel: kernel,
                            loadBefore: loadBefore, loadAfter: Self.load())
    }

    static func memTotalMiB(_ meminfo: String) -> Int? { meminfoKiB(meminfo, "MemTotal").map { $0 / 1024 } }

    static func meminfoKiB(_ meminfo: String, _ key: String) -> Int? {
        meminfo.split(separator: "\n").first { $0.hasPrefix(key + ":") }
            .flatMap { $0.split(whereSeparator: \.isWhitespace).dropFirst().first.flatMap { Int($0) } }
    }
}

/// Options every part shares.
struct BenchOptions: ParsableArguments {
    @Option(help: "Directory for the CSV files, plots, part JSON and report.md.")
    var out: String = "bench-results"
    @Flag(help: "Print the summary as JSON instead of tables.")
    var json = false
}


extension LifecycleBench {
    /// `fuse master init` (no workloads) + `start` on the lab's master, then `policy`.
    func startMasterWithoutWorkloads(policy: String) throws {
        _ = try fuse("master", ["master", "init", "--name", "benchfed", "--domain", "crisis", "--endpoint", lab.masterEndpoint,
                                "--api-port", String(lab.apiPort), "--wg-port", String(lab.wgPort), "--no-workloads"])
        _ = try fuse("master", ["master", "start"])
        let result = try lab.exec("master", [fusePath, "policy", "set", "-"], input: policy, timeout: Self.commandTimeout)
        guard result.succeeded else { throw LabError("fuse policy set failed: \(oneLine(SystemError(result.stderr)))") }
    }

    /// A token for `domain`, then `fuse join --no-workloads` on `node`.
    func joinWithoutWorkloads(_ node: String, domain: String) throws -> JoinReport {
        let join = try Demo.joinString(from: try fuse("master", ["token", "create", "--domain", domain, "--json"]))
        return try JoinReport.decode(try fuse(node, ["join", join, "--name", node, "--no-workloads", "--json"]))
    }
}
