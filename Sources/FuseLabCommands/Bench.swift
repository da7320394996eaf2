import ArgumentParser
import Dispatch
import Foundation
import FuseLab
import FuseModel
import FuseSystem
#if canImport(Glibc)
import Glibc
#endif

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure FUSE in a lab and put the figures beside the paper's (CLOSER 2019, section 5).",
        subcommands: [BenchPaper.self, BenchFootprint.self, BenchLifecycle.self, BenchJoinGrid.self, BenchThroughput.self, BenchVideoGrid.self, BenchVideo.self,
                      BenchRestart.self, BenchRelay.self, BenchScale.self, BenchReportCommand.self])
}

struct BenchLifecycle: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifecycle",
        abstract: "Time master create, worker join, a deploy to another domain, worker leave and master leave; measure memory and binary sizes.",
        discussion: """
            Brings up one lab and, per run, times what a user waits for: 'fuse master init' + \
            'fuse master start' (master create, until ready, Swarm manager and registry included), \
            'fuse join' on a1 (until the tunnel carries traffic and the node's engine is in the \
            Swarm: ready for workloads), then b1 joins and a1 must ping b1 over the VPN; a busybox \
            image is imported and 'fuse deploy' places one service on companyB (until its task runs \
            on b1, image pull included: deploy to another domain); 'fuse leave' on a1 (worker \
            leave, drain included) and, after b1 leaves, 'fuse master destroy' (master leave). In \
            the first run, after the joins, VmRSS of the master process, the hub's wireguard-go, \
            the master's engine (dockerd, containerd) and registry, a1's agent, wireguard-go and \
            engine. Prints min/median/max beside the paper's Table 1 and \
            Fig. 5 and writes lifecycle.csv, join-steps.csv, lifecycle-summary.csv, memory.csv \
            and lifecycle.svg to --out. The lab is torn down at the end, also on failure or \
            Ctrl-C. Progress goes to stderr. The runs use a copy of the fuse binary in the \
            lab's run directory, so that a rebuild meanwhile cannot swap it.
            """)

    @Option(help: "Number of runs (1–100).")
    var runs: Int = 10
    @Option(help: "Directory for the CSV files and the plot.")
    var out: String = "bench-results"
    @Option(help: "Name prefix of the lab (1–6 of a-z, 0-9, '-').")
    var prefix: String = "bl-"
    @OptionGroup var federation: FederationOptions
    @Flag(help: "Print the summary as JSON instead of tables.")
    var json = false

    func validate() throws {
        guard (1...100).contains(runs) else { throw ValidationError("--runs must be 1 to 100, not \(runs)") }
    }

    func run() throws {
        let fusePath = try federation.fusePath()
        let (apiPort, wgPort) = (federation.apiPort, federation.wgPort)
        guard let wireGuardGo = Executables.find("wireguard-go") else {
            throw LabError("wireguard-go not found on PATH (apt-get install wireguard-go)")
        }
        let output = try BenchOutput(out)
        let clock = BenchClock(part: "lifecycle")
        let progress = Progress()
        var results: [LifecycleRun] = []
        var footprint: [FootprintRow] = []
        try withBenchLab(prefix: prefix, apiPort: apiPort, wgPort: wgPort, progress: progress) { lab in
            let bench = LifecycleBench(lab: lab, fusePath: try copyFuse(fusePath, into: lab), progress: progress)
            for run in 1...runs {
                let (result, memory) = try bench.run(run, of: runs, measureMemory: run == 1)
                results.append(result)
                if let memory { footprint = memory }
            }
        }
        footprint += try Self.diskFootprint(fuse: fusePath, wireGuardGo: wireGuardGo)

        let summary = BenchReport.summarize(results)
        let files = [
            ("lifecycle.csv", BenchReport.lifecycleCSV(results)),
            ("join-steps.csv", BenchReport.joinStepsCSV(results)),
            ("lifecycle-summary.csv", BenchReport.summaryCSV(summary)),
            ("memory.csv", BenchReport.memoryCSV(footprint)),
            ("lifecycle.svg", BenchReport.lifecycleSVG(summary, runs: results.count)),
        ]
        var paths = try output.write(files)
        paths += try output.record(PaperResults.files.lifecycle, BenchPart(context: clock.context(), results: results))

        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            printJSON(try encoder.encode(LifecycleSummaryJSON(runs: results, summary: summary, footprint: footprint, files: paths)))
        } else {
            print(Self.figuresTable(summary, runs: results.count), terminator: "")
            print("\njoin steps (median of \(results.count), as 'fuse join --json' reports them):")
            let reported = Spread(results.map(\.joinReported))
            print(renderTable(["STEP", "MEDIAN (s)"],
                              BenchReport.joinStepMedians(results).map { [$0.step, String(format: "%.3f", $0.median)] }
                                  + [["total reported", reported.map { String(format: "%.3f", $0.median) } ?? "-"]]), terminator: "")
            print("\nfootprint (memory: VmRSS after both joins in run 1; paper: per node, section 5.1):")
            print(Self.footprintTable(footprint), terminator: "")
            print("\nwrote:\n" + paths.map { "  " + $0 }.joined(separator: "\n"))
        }
    }

    // MARK: - Output

    static func figuresTable(_ rows: [LifecycleSummaryRow], runs: Int) -> String {
        func s(_ value: Double?) -> String { value.map { String(format: "%.3f", $0) } ?? "-" }
        func p(_ value: Double?) -> String { value.map(BenchReport.paperNumber) ?? "-" }
        let table = rows.map { row in
            [row.metric.title, s(row.ours.min), s(row.ours.median), s(row.ours.max),
             row.paper.map { "\(p($0.min)) / \(p($0.median)) / \(p($0.max))" } ?? "not measured",
             row.speedUp?.text ?? "-"]
        }
        return "lifecycle, \(runs) run\(runs == 1 ? "" : "s") (seconds; paper: CLOSER 2019 Table 1, worker join Fig. 5 \"1 to 4 minutes\"):\n"
            + renderTable(["METRIC", "MIN", "MEDIAN", "MAX", "PAPER MIN / MEDIAN / MAX", "SPEED-UP"], table)
            + "(speed-up: paper median / our median; '≥': the paper gives no median, so paper min / our median)\n"
    }

    static func footprintTable(_ rows: [FootprintRow]) -> String {
        renderTable(["KIND", "ITEM", "PID", "BYTES", "MiB", "PAPER MiB"], rows.map {
            [$0.kind.rawValue, $0.item, $0.pid.map(String.init) ?? "-", String($0.bytes), String(format: "%.1f", $0.mebibytes),
             $0.paperMiB.map(BenchReport.paperNumber) ?? "-"]
        })
    }

    struct LifecycleSummaryJSON: Encodable {
        struct Metric: Encodable {
            let metric: String
            let min: Double
            let median: Double
            let max: Double
            let paperMin: Double?
            let paperMedian: Double?
            let paperMax: Double?
            let speedUp: Double?
            let speedUpIsLowerBound: Bool?
        }
        let runs: Int
        let metrics: [Metric]
        let joinReported: Spread?
        let joinStepMedians: [JoinStep]
        let footprint: [FootprintRow]
        let files: [String]

        init(runs: [LifecycleRun], summary: [LifecycleSummaryRow], footprint: [FootprintRow], files: [String]) {
            self.runs = runs.count
            metrics = summary.map {
                Metric(metric: $0.metric.rawValue, min: $0.ours.min, median: $0.ours.median, max: $0.ours.max,
                       paperMin: $0.paper?.min, paperMedian: $0.paper?.median, paperMax: $0.paper?.max,
                       speedUp: $0.speedUp?.factor, speedUpIsLowerBound: $0.speedUp?.isLowerBound)
            }
            joinReported = Spread(runs.map(\.joinReported))
            joinStepMedians = BenchReport.joinStepMedians(runs).map { JoinStep(step: $0.step, seconds: $0.median) }
            self.footprint = footprint
            self.files = files
        }
    }

    // MARK: - Host

    static func diskFootprint(fuse: String, wireGuardGo: String) throws -> [FootprintRow] {
        func size(_ path: String) throws -> Int {
            let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            guard let bytes = (try? FileManager.default.attributesOfItem(atPath: resolved))?[.size] as? NSNumber else {
                throw LabError("cannot read the size of \(resolved)")
            }
            return bytes.intValue
        }
        let fuseBytes = try size(fuse), wgBytes = try size(wireGuardGo)
        return [
            FootprintRow(kind: .disk, item: "fuse binary (\(fuse))", bytes: fuseBytes),
            FootprintRow(kind: .disk, item: "wireguard-go binary (\(wireGuardGo))", bytes: wgBytes),
            FootprintRow(kind: .disk, item: "master node: fuse + wireguard-go", bytes: fuseBytes + wgBytes, paperMiB: PaperFootprint.masterDiskMiB),
            FootprintRow(kind: .disk, item: "worker node: fuse + wireguard-go", bytes: fuseBytes + wgBytes, paperMiB: PaperFootprint.workerDiskMiB),
        ]
    }

}

/// Tears a lab down exactly once, from the end of the run or from a signal handler.
final class LabTeardownOnce: @unchecked Sendable {
    let prefix: String
    private let lock = NSLock()
    private var up = false
    private var down = false
    private var wasInterrupted = false

    init(prefix: String) { self.prefix = prefix }

    var interrupted: Bool { lock.withLock { wasInterrupted } }

    /// Records that Lab.up returned; false when a signal came meanwhile (then tear down and stop).
    func labIsUp() -> Bool {
        lock.withLock {
            up = true
            return !wasInterrupted
        }
    }

    /// Tears the lab down unless that already happened (a second caller waits for the first).
    func tearDown() -> [String] {
        lock.lock()
        defer { lock.unlock() }
        guard up, !down else { return [] }
        down = true
        do { return try Lab.down(prefix: prefix).problems } catch { return [oneLine(error)] }
    }

    /// On SIGINT or SIGTERM: tear the lab down and exit 130 (during Lab.up only mark it; the
    /// caller sees it in `labIsUp`). Ignoring the signals here does not reach the daemons:
    /// posix_spawn resets the children's signal dispositions.
    func handleSignals() -> [DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                let labUp = lock.withLock {
                    wasInterrupted = true
                    return up
                }
                guard labUp else { return }
                FileHandle.standardError.write(Data("fuse-lab: interrupted; tearing down lab '\(prefix)'\n".utf8))
                let problems = tearDown()
                for problem in problems { FileHandle.standardError.write(Data("fuse-lab: warning: teardown: \(problem)\n".utf8)) }
                _exit(130)
            }
            source.resume()
            return source
        }
    }
}

/// Timestamped progress lines on stderr.
final class Progress: Sendable {
    let start = ContinuousClock.now

    func callAsFunction(_ message: String) {
        let seconds = (ContinuousClock.now - start).inSeconds
        FileHandle.standardError.write(Data((String(format: "[%7.1fs] ", seconds) + message + "\n").utf8))
    }
}

/// One lab, driven through the lifecycle again and again.
struct LifecycleBench {
    let lab: Lab
    let fusePath: String
    let progress: Progress

    static let commandTimeout: Duration = .seconds(120)

    /// Runs `fuse ARGS` in the node; its stdout, or an error naming the command.
    func fuse(_ node: String, _ args: [String]) throws -> String {
        let result = try lab.exec(node, [fusePath] + args, timeout: Self.commandTimeout)
        guard result.succeeded else {
            let output = oneLine(SystemError(result.stderr.isEmpty ? result.stdout : result.stderr))
            let detail = output.isEmpty ? "no output" : output
            let shown = args.first == "join" ? ["join", "…"] + args.dropFirst(2) : args  // keep the secret out of messages
            throw LabError("'fuse \(shown.joined(separator: " "))' in \(node) failed (exit \(result.status == 124 ? "124, timed out" : String(result.status))): \(detail)")
        }
        return result.stdout
    }

    /// Wall time of `body`, as the user waits for it.
    func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        let clock = ContinuousClock()
        let start = clock.now
        let value = try body()
        return (value, (clock.now - start).inSeconds)
    }

    func join(_ node: String, domain: String) throws -> (JoinReport, Double) {
        let join = try Demo.joinString(from: try fuse("master", ["token", "create", "--domain", domain, "--json"]))
        let (output, seconds) = try timed { try fuse(node, ["join", join, "--name", node, "--json"]) }
        return (try JoinReport.decode(output), seconds)
    }

    func run(_ run: Int, of runs: Int, measureMemory: Bool) throws -> (LifecycleRun, [FootprintRow]?) {
        let tag = "run \(run)/\(runs)"
        let (_, masterCreate) = try timed {
            _ = try fuse("master", ["master", "init", "--name", "bench", "--endpoint", lab.masterEndpoint,
                                    "--api-port", String(lab.apiPort), "--wg-port", String(lab.wgPort)])
            _ = try fuse("master", ["master", "start", "--json"])
        }
        progress("\(tag): master create \(String(format: "%.3f", masterCreate)) s")
        // The default policy denies node-to-node traffic; the sanity ping below needs ICMP.
        let policy = try lab.exec("master", [fusePath, "policy", "set", "-"], input: LabPolicy.ping, timeout: Self.commandTimeout)
        guard policy.succeeded else { throw LabError("\(tag): fuse policy set failed: \(oneLine(SystemError(policy.stderr)))") }

        let (a1, workerJoin) = try join("a1", domain: "companyA")
        progress("\(tag): a1 join \(String(format: "%.3f", workerJoin)) s (reported \(String(format: "%.3f", a1.seconds)) s, \(a1.address))")
        let (b1, b1Join) = try join("b1", domain: "companyB")
        progress("\(tag): b1 join \(String(format: "%.3f", b1Join)) s (not timed for the figures, \(b1.address))")
        try ping(from: "a1", to: b1.host, tag: tag)
        let deployRemote = try deploy(tag: tag)

        var memory: [FootprintRow]?
        if measureMemory {
            memory = try self.memory()
            progress("\(tag): memory " + (memory ?? []).map { "\($0.item) \(String(format: "%.1f", $0.mebibytes)) MiB" }.joined(separator: ", "))
        }

        let (_, workerLeave) = try timed { _ = try fuse("a1", ["leave", "--json"]) }
        progress("\(tag): a1 leave \(String(format: "%.3f", workerLeave)) s")
        _ = try fuse("b1", ["leave", "--json"])
        let (_, masterDestroy) = try timed { _ = try fuse("master", ["master", "destroy"]) }
        progress("\(tag): master destroy \(String(format: "%.3f", masterDestroy)) s")
        try checkNothingLeft("master")

        return (LifecycleRun(run: run, masterCreate: masterCreate, workerJoin: workerJoin, workerLeave: workerLeave,
                             masterDestroy: masterDestroy, joinReported: a1.seconds, joinSteps: a1.steps, deployRemote: deployRemote), memory)
    }

    /// A leave or destroy that left anything in the node's state directory is FUSE's failure:
    /// the benchmark stops and names it (the lab's teardown removes the rest).
    func checkNothingLeft(_ node: String) throws {
        guard let directory = try? lab.node(node).stateDir,
              let entries = try? FileManager.default.subpathsOfDirectory(atPath: directory), !entries.isEmpty else { return }
        throw LabError("\(node)'s state dir still holds \(entries.count) entries after it left (\(entries.prefix(4).joined(separator: ", "))\(entries.count > 4 ? ", …" : ""))")
    }

    /// Imports the lab image and times `fuse deploy` of one service placed in companyB, from
    /// the master, until its task runs on b1 (whose engine pulls the image from the registry).
    func deploy(tag: String) throws -> Double {
        let image = lab.topology.runDirectory + "/bench-image.tar"
        if !FileManager.default.fileExists(atPath: image) { try LabImage.write(to: image, page: "bench") }
        _ = try fuse("master", ["image", "import", image, "benchbox:1"])
        let file = lab.topology.runDirectory + "/bench-stack.yml"
        try """
            services:
              probe:
                image: benchbox:1
                command: ["sleep", "86400"]
                stop_grace_period: 1s
                x-fuse-domain: companyB
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let (_, seconds) = try timed { _ = try fuse("master", ["deploy", "-f", file, "--name", "bench"]) }
        progress("\(tag): deploy to companyB \(String(format: "%.3f", seconds)) s (task running on b1, image pulled from the master's registry)")
        return seconds
    }

    /// a1 must reach b1 over the VPN (through the hub); a few tries within about 5 s, since
    /// a1 learns of b1 through its map.
    func ping(from node: String, to address: String, tag: String) throws {
        guard !address.isEmpty else { throw LabError("\(tag): 'fuse join --json' gave no address for the ping target") }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        let start = clock.now
        var last = ""
        var attempts = 0
        repeat {
            attempts += 1
            let result = try lab.exec(node, ["ping", "-n", "-c1", "-W1", address], timeout: .seconds(5))
            if result.succeeded {
                let rtt = result.stdout.range(of: #"time=[0-9.]+ ms"#, options: .regularExpression).map { String(result.stdout[$0].dropFirst(5)) } ?? "?"
                let waited = attempts == 1 ? "" : String(format: " (answered on attempt %d, after %.3f s)", attempts, (clock.now - start).inSeconds)
                progress("\(tag): ping \(node) → b1 \(address) over the VPN: \(rtt)\(waited)")
                return
            }
            last = oneLine(SystemError(result.stdout + result.stderr))
        } while clock.now < deadline
        throw LabError("\(tag): \(node) cannot ping b1 (\(address)) over the VPN: \(last)")
    }

    /// VmRSS of the master's processes (control plane, hub, engine, registry) and a1's (agent,
    /// wireguard-go, engine), found through their pid files and checked against their command
    /// lines.
    func memory() throws -> [FootprintRow] {
        let master = try lab.node("master"), a1 = try lab.node("a1")
        guard let masterState = master.stateDir, let a1State = a1.stateDir, let masterInterface = master.interface, let a1Interface = a1.interface else {
            throw LabError("lab nodes without a state directory or interface")
        }
        let masterEngine = EngineNames(interface: masterInterface).runDirectory, a1Engine = EngineNames(interface: a1Interface).runDirectory
        let masterRows = try [
            ("master process (fuse master run)", masterState + "/master/master.pid", "master\0run"),
            ("master wireguard-go (hub)", masterState + "/node/wireguard.pid", "wireguard-go"),
            ("master engine (dockerd)", masterEngine + "/docker.pid", "dockerd"),
            ("master engine (containerd)", masterEngine + "/exec/containerd/containerd.pid", "containerd"),
            ("master image registry (pull side)", masterState + "/node/registry/registry.pid", "docker-registry"),
            ("master image registry (push side)", masterState + "/node/registry/registry-push.pid", "docker-registry"),
        ].map(Self.memoryRow)
        let a1Rows = try [
            ("a1 agent (fuse agent run)", a1State + "/node/agent.pid", "agent\0run"),
            ("a1 wireguard-go", a1State + "/node/wireguard.pid", "wireguard-go"),
            ("a1 engine (dockerd)", a1Engine + "/docker.pid", "dockerd"),
            ("a1 engine (containerd)", a1Engine + "/exec/containerd/containerd.pid", "containerd"),
        ].map(Self.memoryRow)
        return masterRows + [FootprintRow(kind: .memory, item: "master node total", bytes: masterRows.map(\.bytes).reduce(0, +),
                                          paperMiB: PaperFootprint.masterMemoryMiB)]
            + a1Rows + [FootprintRow(kind: .memory, item: "worker node total (a1)", bytes: a1Rows.map(\.bytes).reduce(0, +),
                                     paperMiB: PaperFootprint.workerMemoryMiB)]
    }

    /// VmRSS of the process in `pidFile`, checked against its command line.
    static func memoryRow(_ item: String, _ pidFile: String, _ expected: String) throws -> FootprintRow {
        let pid = try pid(from: pidFile)
        guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
              String(decoding: cmdline, as: UTF8.self).contains(expected) else {
            throw LabError("process \(pid) from \(pidFile) is not running or is not \(expected.replacingOccurrences(of: "\0", with: " "))")
        }
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let kib = BenchReport.vmRSSKiB(fromStatus: status) else {
            throw LabError("cannot read VmRSS of process \(pid) (/proc/\(pid)/status)")
        }
        return FootprintRow(kind: .memory, item: item, pid: pid, bytes: kib * 1024)
    }

    static func pid(from path: String) throws -> Int32 {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 else {
            throw LabError("no pid in \(path)")
        }
        return pid
    }
}
