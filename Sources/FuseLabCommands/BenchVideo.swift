import ArgumentParser
import Foundation
import FuseLab
import FuseModel
import FuseSystem
#if canImport(Glibc)
import Glibc
#endif

/// `fuse-lab bench video`: how many camera streams the federation carries to the dashboard.
struct BenchVideo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "video",
        abstract: "Count the 720p ~2 Mbit/s camera streams from two domains that reach the dashboard at ≥ 24 fps each, beside the paper's 17.",
        discussion: """
            Brings up a lab (master, a1 in companyA, b1 in companyB), then adds --step cameras at a \
            time, half on companyA's device 'cam' and half on companyB's 'store', each step with a \
            relay per company ('fuse deploy'), until a stream falls below 24 fps or --max streams. \
            Per step, over --window seconds after every stream arrived: the frames each stream \
            delivered to the master's ingest (from its frame counters in /metrics, not decoded), \
            the latency from the camera's frame time (prft) to the ingest, and CPU and RSS of the \
            master process, the hub's wireguard-go, the workers' wireguard-go (a1, b1), the relays \
            (their curl processes) and the cameras (ffmpeg; RSS summed per process, shared \
            libraries counted in each). Writes video.csv to --out. Then (unless --no-tiles) headless Chromium \
            on the operator PC shows 2, 4, … tiles of the wall (decode-bound: software decoding on \
            this machine's cores) until a tile falls below 24 fps. Writes video.json (read by \
            'bench report' for report.md) after each phase. The lab is torn down at the end.
            """)

    @Option(help: "Streams added per step (even: half per company).")
    var step: Int = 4
    @Option(help: "Stop after this many streams.")
    var max: Int = 64
    @Option(help: "Seconds measured per step.")
    var window: Int = 10
    @Option(help: "Directory for video.csv, video.json and report.md.")
    var out: String = "bench-results"
    @Option(help: "Name prefix of the lab (1–6 of a-z, 0-9, '-').")
    var prefix: String = "bv-"
    @OptionGroup var federation: FederationOptions

    /// The most tiles tried in the browser.
    static let maxTiles = 16

    func validate() throws {
        guard step >= 2, step % 2 == 0, (step...512).contains(max), (3...120).contains(window) else {
            throw ValidationError("--step must be even and ≥ 2, --max ≥ --step (at most 512), --window 3 to 120")
        }
    }

    typealias Row = VideoStreamsResults.Row
    static let groups = VideoStreamsResults.groups

    func run() throws {
        let fusePath = try federation.fusePath()
        let output = try BenchOutput(out)
        let clock = BenchClock(part: "video")
        let progress = Progress()
        let teardown = LabTeardownOnce(prefix: prefix)
        let signals = teardown.handleSignals()
        let lab = try Lab.up(prefix: prefix, apiPort: federation.apiPort, wgPort: federation.wgPort)
        guard teardown.labIsUp() else { _ = teardown.tearDown(); Foundation.exit(130) }
        defer {
            progress("lab '\(lab.prefix)' down")
            for problem in teardown.tearDown() { progress("warning: teardown: \(problem)") }
            signals.forEach { $0.cancel() }
        }
        let bench = LifecycleBench(lab: lab, fusePath: fusePath, progress: progress)
        _ = try bench.fuse("master", ["master", "init", "--name", "video", "--endpoint", lab.masterEndpoint,
                                      "--api-port", String(lab.apiPort), "--wg-port", String(lab.wgPort)])
        _ = try bench.fuse("master", ["master", "start"])
        let (a1, _) = try bench.join("a1", domain: "companyA")
        _ = try bench.join("b1", domain: "companyB")
        let members = try Demo.members(from: try bench.fuse("master", ["nodes", "--json"]), lab: lab)
        guard let master = members.first(where: { $0.node == lab.topology.masterNodeId })?.address else { throw LabError("no master in 'fuse nodes'") }
        progress("federation up (a1 \(a1.address)); encoding the camera clip and importing the relay image")
        try LabVideo.importRelayImage(lab: lab, fuse: bench.fuse)

        var cameras: [LabCamera] = []
        var rows: [Row] = []
        while cameras.count < max {
            var added: [LabCamera] = []
            for index in 0..<step {
                let number = cameras.count + added.count + 1
                let device = index % 2 == 0 ? "cam" : "store"
                added.append(try LabCamera.start(in: lab, node: device, name: "c\(number)", port: 9000 + number))
            }
            cameras += added
            try LabVideo.deployRelays(lab: lab, master: "\(master):\(lab.apiPort)", cameras: added, stack: "video\(rows.count + 1)", fuse: bench.fuse)
            let arrived = pollUntil(.seconds(60), every: .milliseconds(500)) {
                ((try? LabVideo.ingestFPS(lab: lab)) ?? [:]).filter { $0.value > 0 }.count >= cameras.count
            }
            guard arrived else { progress("not every stream reached the master within 60 s; stopping"); break }
            let row = try measure(lab: lab, streams: cameras.count, master: master)
            rows.append(row)
            progress(String(format: "%3d streams: %d at ≥ 24 fps, min %.1f, mean %.1f fps, latency %.0f ms; CPU master %.0f %%, hub %.0f %%, workers' tunnels %.0f %%, relays %.0f %%, cameras %.0f %%",
                            row.streams, row.atFullRate, row.minFPS, row.meanFPS, row.latencyMilliseconds,
                            row.cpu["master"] ?? 0, row.cpu["hub"] ?? 0, row.cpu["workers"] ?? 0, row.cpu["relays"] ?? 0, row.cpu["cameras"] ?? 0))
            if row.atFullRate < row.streams { break }
        }
        var results = VideoStreamsResults(rows: rows, stoppedAtMax: rows.last?.allAtFullRate == true && cameras.count >= max)
        let carried = results.carried
        print(renderTable(["STREAMS", "AT ≥24 FPS", "MIN FPS", "MEAN FPS", "LATENCY MS"] + Self.groups.flatMap { ["\($0.uppercased()) CPU %", "\($0.uppercased()) RSS MiB"] },
                          rows.map { row in
                              [String(row.streams), String(row.atFullRate), String(format: "%.1f", row.minFPS), String(format: "%.1f", row.meanFPS),
                               String(format: "%.0f", row.latencyMilliseconds)]
                                  + Self.groups.flatMap { [String(format: "%.0f", row.cpu[$0] ?? 0), String(format: "%.0f", row.rssMiB[$0] ?? 0)] }
                          }), terminator: "")
        print("streams carried at ≥ 24 fps each: \(carried)\(results.stoppedAtMax ? " (or more: stopped at --max \(max))" : "") — paper: \(VideoStreamsResults.paperStreams)")
        _ = try output.write([("video.csv", results.csv)])
        for path in try output.record(PaperResults.files.video, BenchPart(context: clock.context(), results: results)) { progress("wrote \(path)") }
        if tiles, carried > 0 {
            let measured = try browserTiles(lab: lab, cameras: Array(cameras.prefix(carried)), bench: bench, progress: progress)
            results = VideoStreamsResults(rows: rows, stoppedAtMax: results.stoppedAtMax,
                                          tiles: measured.map { VideoStreamsResults.Tiles(tiles: $0.tiles, minFPS: $0.min, meanFPS: $0.mean) })
            print(renderTable(["TILES", "MIN TILE FPS", "MEAN TILE FPS"], measured.map { [String($0.tiles), String(format: "%.1f", $0.min), String(format: "%.1f", $0.mean)] }), terminator: "")
            print("tiles one headless Chromium (software decoding, \(ProcessInfo.processInfo.activeProcessorCount) cores shared with the lab) keeps at ≥ 24 fps: \(results.tilesKept)")
            _ = try output.record(PaperResults.files.video, BenchPart(context: clock.context(), results: results))
        }
        cameras.forEach { $0.stop() }
    }

    @Flag(inversion: .prefixedNo, help: "Then count the tiles of the video wall that one headless Chromium keeps at ≥ 24 fps.")
    var tiles = true

    /// The driver of the dashboard lab test (selenium), fed a list of commands: the wall with
    /// N tiles (`?tiles=N`) and each tile's fps after `window` seconds, from N = 16 down by 2
    /// until every tile keeps 24 fps. Only the N shown cameras stream meanwhile: the browser
    /// decodes in software on the cores the lab shares.
    func browserTiles(lab: Lab, cameras: [LabCamera], bench: LifecycleBench, progress: Progress) throws -> [(tiles: Int, min: Double, mean: Double)] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let driver = root.appendingPathComponent("Tests/FuseLabTests/Scripts/dashboard_browser.py").path
        guard FileManager.default.fileExists(atPath: driver) else { throw LabError("the browser driver \(driver) is missing (run from FUSE's source tree)") }
        let login = try JSONSerialization.jsonObject(with: Data(try bench.fuse("master", ["dashboard", "--json"]).utf8)) as? [String: Any]
        let pin = try JoinString(parsing: try Demo.joinString(from: try bench.fuse("master", ["token", "create", "--domain", "crisis", "--json"]))).caPin
        guard let token = login?["token"] as? String, let address = try lab.node(lab.topology.masterNodeId).lanAddress else { throw LabError("no dashboard login") }
        let base = "https://\(address):\(lab.apiPort)/dashboard/"
        var results: [(tiles: Int, min: Double, mean: Double)] = []
        for count in stride(from: min(cameras.count, Self.maxTiles), to: 0, by: -2) {
            for camera in cameras.dropFirst(count) { camera.stop() }
            let commands: [[String: Any]] = [
                ["cmd": "open", "url": base],
                ["cmd": "wait", "js": "!document.querySelector('#login').hidden", "timeout": 15],
                ["cmd": "login", "token": token],
                ["cmd": "wait", "js": "document.querySelectorAll('[data-node]').length > 0", "timeout": 15],
                ["cmd": "open", "url": base + "?tiles=\(count)#wall"],
                ["cmd": "wait", "js": "document.querySelectorAll('.tile[data-state=\"live\"]').length === \(count)", "timeout": 15],
                ["cmd": "wait", "js": "new Promise((r) => setTimeout(() => r(true), \(window * 1000)))", "timeout": window + 5],
                ["cmd": "eval", "js": "[...document.querySelectorAll('.tile')].map((t) => parseFloat(t.dataset.fps))"],
                ["cmd": "quit"],
            ]
            let input = try commands.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }.joined(separator: "\n") + "\n"
            let result = try lab.exec("op", ["/usr/bin/python3", driver, pin], input: input, timeout: .seconds(window + 90))
            let answers = result.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            guard let fps = answers.last?["value"] as? [Double], fps.count == count else {
                throw LabError("the browser did not report \(count) tiles: \(oneLine(SystemError(result.stdout + result.stderr)))")
            }
            results.append((count, fps.min() ?? 0, fps.reduce(0, +) / Double(fps.count)))
            progress(String(format: "%2d tiles in one headless Chromium: min %.1f, mean %.1f fps", count, fps.min() ?? 0, fps.reduce(0, +) / Double(fps.count)))
            if (fps.min() ?? 0) >= 24 { break }
        }
        return results
    }

    /// Frames delivered per stream over the window (frame counters at the ingest), latency,
    /// and CPU and RSS per group of processes.
    func measure(lab: Lab, streams: Int, master: String) throws -> Row {
        let processes = try Self.processGroups(lab: lab)
        let before = try LabVideo.metrics(lab: lab), cpuBefore = processes.mapValues(ProcessTotals.ticks)
        let clock = ContinuousClock(), start = clock.now
        Thread.sleep(forTimeInterval: TimeInterval(window))  // the measurement window itself
        let after = try LabVideo.metrics(lab: lab), cpuAfter = processes.mapValues(ProcessTotals.ticks)
        let elapsed = (clock.now - start).inSeconds
        let framesBefore = LabVideo.streamValues("fuse_stream_frames_total", in: before)
        let fps = LabVideo.streamValues("fuse_stream_frames_total", in: after).map { ($0.value - (framesBefore[$0.key] ?? $0.value)) / elapsed }
        let latency = Array(LabVideo.streamValues("fuse_stream_latency_seconds", in: after).values)
        var row = Row(streams: streams, atFullRate: fps.filter { $0 >= 24 }.count, minFPS: fps.min() ?? 0,
                      meanFPS: fps.isEmpty ? 0 : fps.reduce(0, +) / Double(fps.count),
                      latencyMilliseconds: latency.isEmpty ? 0 : latency.reduce(0, +) / Double(latency.count) * 1000)
        let hertz = Double(sysconf(Int32(_SC_CLK_TCK)))
        for (group, pids) in processes {
            row.cpu[group] = Double((cpuAfter[group] ?? 0) - (cpuBefore[group] ?? 0)) / hertz / elapsed * 100
            row.rssMiB[group] = Double(pids.reduce(0) { $0 + ProcessTotals.rssKiB($1) }) / 1024
        }
        return row
    }

    /// The processes of each group: the master process, the hub's wireguard-go, the relays'
    /// curl (by this lab's ingest port and camera URLs), the cameras' ffmpeg (by the lab's clip).
    static func processGroups(lab: Lab) throws -> [String: [pid_t]] {
        guard let state = try lab.node(lab.topology.masterNodeId).stateDir else { throw LabError("the lab has no master") }
        let lines = Daemon.commandLines()
        let ingest = ":\(lab.apiPort)/v1/streams/", clip = lab.topology.runDirectory + "/camera-clip.mp4"
        return [
            "master": [try LifecycleBench.pid(from: state + "/master/master.pid")],
            "hub": [try LifecycleBench.pid(from: state + "/node/wireguard.pid")],
            // The workers' tunnels: a1's and b1's wireguard-go.
            "workers": try ["a1", "b1"].compactMap { try lab.node($0).stateDir }.map { try LifecycleBench.pid(from: $0 + "/node/wireguard.pid") },
            "relays": lines.filter { $0.arguments.first?.hasSuffix("curl") == true && $0.arguments.contains { $0.contains(ingest) || $0.hasPrefix("http://192.168.") } }.map(\.pid),
            "cameras": lines.filter { $0.arguments.first?.hasSuffix("ffmpeg") == true && $0.arguments.contains(clip) }.map(\.pid),
        ]
    }
}

/// CPU time (clock ticks) and memory of a group of processes, from FuseLab's /proc readers.
enum ProcessTotals {
    static func ticks(_ pids: [pid_t]) -> Int { CPUSample.take(pids).ticks.values.reduce(0, +) }

    static func rssKiB(_ pid: pid_t) -> Int {
        ProcFile.text("/proc/\(pid)/status").flatMap(BenchReport.vmRSSKiB) ?? 0
    }
}
