import ArgumentParser
import Dispatch
import Foundation
import FuseLab
import FuseModel
import FuseSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

struct BenchScale: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Simulated nodes against a real master at 100 to 2,000 nodes: join rate, how fast a change reaches every node, the master's cost.",
        discussion: """
            Makes a network namespace of its own (PREFIX + 'scale'; nothing else is touched and no \
            packet leaves it), runs 'fuse master init --no-workloads' and 'fuse master start' in it \
            (a real master and hub: wireguard-go, nftables, SQLite) and, in one process in the same \
            namespace, simulated nodes: each enrols over the HTTPS API with a token, long-polls its \
            map with the agent's own client (deltas), and heartbeats every 5 s and after each new \
            map, without a tunnel. About 1 % of the nodes are in domain 'ops', the rest in \
            'field'. The federation grows to each --sizes in turn; at each size: the join rate and \
            latency of that step's joins (--concurrency in flight), then a policy change (ops may \
            reach tcp/22 on every field node: every map changes), an exposure by one field node \
            (its map changes), one more ops node joining (until the hub's WireGuard has its peer) \
            and leaving (every field node's map changes; until the hub has dropped the peer). Each \
            change is timed from its request to the long-poll answer of every node whose map it \
            changes. Master RSS, CPU (while joining and while only heartbeats run, 10 s), open \
            files and database size come from /proc and the state dir. The master runs with \
            FUSE_API_MAX_CONNECTIONS_PER_SOURCE raised (every simulated node connects from \
            127.0.0.1) and this process raises its open-file limit to the hard limit. Writes \
            scale.csv, scale.svg (propagation against node count), scale.json and the master's log \
            (scale-master.log) to --out. \
            Requires root; the namespace and the state dir are removed at the end, also on failure.
            """)

    @OptionGroup var bench: BenchOptions
    @Option(parsing: .upToNextOption, help: "Federation sizes in simulated nodes, growing (default 100 500 1000 2000).")
    var sizes: [Int] = [100, 500, 1000, 2000]
    @Option(help: "Joins in flight at once (devices of a federation join independently of each other).")
    var concurrency: Int = 64
    @Option(help: "Seconds a change may take to reach every node before the rest count as not reached.")
    var deadline: Int = 20
    @Option(help: "Name prefix of the namespace, the hub's interface and the state dir (1–6 of a-z, 0-9, '-').")
    var prefix: String = "bs-"
    @OptionGroup var federation: FederationOptions
    @Option(help: .hidden)
    var stateDir: String?
    @Flag(help: .hidden)
    var insideNamespace = false

    func validate() throws {
        guard !sizes.isEmpty, sizes.allSatisfy({ (1...5000).contains($0) }), sizes == sizes.sorted(), Set(sizes).count == sizes.count else {
            throw ValidationError("--sizes must be growing numbers of nodes from 1 to 5000")
        }
        guard (1...256).contains(concurrency) else { throw ValidationError("--concurrency must be 1 to 256, not \(concurrency)") }
        guard prefix.range(of: "^[a-z0-9-]{1,6}$", options: .regularExpression) != nil else {
            throw ValidationError("--prefix must be 1 to 6 of a-z, 0-9, '-', not \"\(prefix)\"")
        }
    }

    var namespace: String { prefix + "scale" }
    var interface: String { prefix + "hub" }

    func run() throws {
        guard geteuid() == 0 else { throw LabError("bench scale makes a network namespace and runs a master: run it as root") }
        if insideNamespace, let stateDir { return try measure(stateDir: stateDir) }
        let fusePath = try federation.fusePath()
        let runner = HostCommandRunner()
        guard !FileManager.default.fileExists(atPath: "\(LabAddressPlan.netnsRoot)/\(namespace)") else {
            throw LabError("namespace \(namespace) exists already (another bench scale, or one that was killed): remove it with 'ip netns delete \(namespace)'")
        }
        let stateDir = NSTemporaryDirectory() + "\(prefix)scale-\(getpid())"
        try runner.check(["ip", "netns", "add", namespace])
        defer { cleanUp(stateDir: stateDir, runner: runner) }
        try runner.check(["ip", "-n", namespace, "link", "set", "lo", "up"])
        // The measuring half runs inside the namespace: every connection stays on its loopback.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        child.arguments = ["--net=\(LabAddressPlan.netnsRoot)/\(namespace)", "--", Executables.current, "bench", "scale", "--inside-namespace",
                           "--state-dir", stateDir, "--fuse", fusePath, "--api-port", String(federation.apiPort), "--wg-port", String(federation.wgPort), "--out", bench.out, "--concurrency", String(concurrency),
                           "--deadline", String(deadline), "--prefix", prefix, "--sizes"] + sizes.map(String.init) + (bench.json ? ["--json"] : [])
        try child.run()
        // Ctrl-C reaches the child (same process group); this process stays to clean up.
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        child.waitUntilExit()
        guard child.terminationStatus == 0 else { throw LabError("bench scale failed (exit \(child.terminationStatus)); see above") }
    }

    /// Stops what runs in the namespace, removes it, the hub's UAPI socket and the state dir.
    func cleanUp(stateDir: String, runner: HostCommandRunner) {
        let pids = ((try? runner.run(["ip", "netns", "pids", namespace]))?.stdout ?? "").split(whereSeparator: \.isNewline).compactMap { Int32($0) }
        for pid in pids { kill(pid, SIGTERM) }
        _ = pollUntil(.seconds(5)) { pids.allSatisfy { !Daemon.isAlive($0) } }
        for pid in pids where Daemon.isAlive(pid) { kill(pid, SIGKILL) }
        _ = runner.succeeds(["ip", "netns", "delete", namespace])
        try? FileManager.default.removeItem(atPath: "\(UAPISocket.directory)/\(interface).sock")
        try? FileManager.default.removeItem(atPath: stateDir)
    }

    /// Inside the namespace: the master, the simulated nodes, the figures.
    func measure(stateDir: String) throws {
        let clock = BenchClock(part: "scale")
        let progress = Progress()
        let output = try BenchOutput(bench.out)
        let run = ScaleRun(fusePath: try federation.fusePath(), stateDir: stateDir, interface: interface, apiPort: federation.apiPort, wgPort: federation.wgPort, sizes: sizes,
                           concurrency: concurrency, deadline: .seconds(deadline), progress: progress,
                           logCopy: bench.out + "/scale-master.log")
        let steps = try blockingAwait { try await run.run() }
        let context = clock.context()
        let subtitle = String(format: "real master (%@ build), simulated nodes (%@ build) on %d cores; load %.1f → %.1f", Self.build(of: run.fusePath),
                              Self.simulatorBuild, context.cores, context.loadBefore, context.loadAfter)
        let files = try output.write([("scale.csv", ScaleResults.csv(steps)), ("scale.svg", ScaleResults.propagationSVG(steps, subtitle: subtitle)),
                                      ("scale.json", String(decoding: try benchEncoder().encode(BenchPart(context: context, results: steps)), as: UTF8.self) + "\n")])
        if bench.json {
            printJSON(try benchEncoder().encode(BenchPart(context: context, results: steps)))
        } else {
            let table = ScaleResults.table(steps)
            print(renderTable(table.header, table.rows))
            print("wrote " + files.joined(separator: ", "))
        }
    }
}

extension BenchScale {
    /// Which build a `fuse` binary is, from SwiftPM's folder names (`--fuse` may point at a
    /// release build while this bench is a debug one).
    static func build(of fusePath: String) -> String {
        fusePath.contains("/release/") ? "release" : fusePath.contains("/debug/") ? "debug" : "unknown"
    }

    static var simulatorBuild: String {
        #if DEBUG
        "debug"
        #else
        "release"
        #endif
    }
}

/// Runs async work from a synchronous command and waits for it.
func blockingAwait<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let result = Mutex<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let value: Result<T, any Error>
        do { value = .success(try await body()) } catch { value = .failure(error) }
        result.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return try result.withLock { $0! }.get()
}
