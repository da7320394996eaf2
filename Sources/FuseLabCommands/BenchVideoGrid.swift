import ArgumentParser
import Foundation
import FuseLab
import FuseModel
import FuseSystem
#if canImport(Glibc)
import Glibc
#endif

struct BenchVideoGrid: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "video-grid",
        abstract: "Frames per second that camera streams deliver to the dashboard over a delay × loss grid of their WAN link (the paper's Fig. 7).",
        discussion: """
            Brings up one lab, a master and a1 (companyA, with workloads). One pass per load: \
            --unlimited streams whose frame rate is not limited (the paper's test: fps then \
            measures the path), then --streams cameras at 25 fps (real time). The cameras run on \
            companyA's device 'cam'; a relay on a1 ('fuse deploy') pushes them to the master \
            through a1's tunnel, which crosses companyA's WAN link. Per cell the link is impaired \
            (delay round trip, loss each direction; see 'fuse-lab impair'), the cameras start, and \
            once every stream arrived and --warmup seconds passed, the frames each stream delivers \
            to the master's ingest (its counters in /metrics; what the video wall is fed, not \
            decoded in a browser) are read every second for --window seconds, with the CPU of the \
            master and the hub; then the link is clean again and the cameras stop. Writes \
            video-grid.csv, per load a heat map (video-grid-LOAD.svg) and Fig. 7's lines \
            (video-lines-LOAD.svg), video-grid.json and report.md (after each load). About 11 \
            minutes with the defaults; --quick about 5.
            """)

    @OptionGroup var bench: BenchOptions
    @Flag(help: "A smaller grid: delay {0, 50, 100} ms × loss {0, 1, 2} %.")
    var quick = false
    @Option(parsing: .upToNextOption, help: "Round-trip delays in ms (default: the paper's 0 25 50 75 100).")
    var delays: [Double] = []
    @Option(parsing: .upToNextOption, help: "Losses in % (default: the paper's 0 0.2 1 2).")
    var losses: [Double] = []
    @Option(parsing: .upToNextOption, help: "Real-time (25 fps) camera counts, one pass each.")
    var streams: [Int] = [1, 10]
    @Option(parsing: .upToNextOption, help: "Counts of streams whose frame rate is not limited, one pass each (0: none).")
    var unlimited: [Int] = [1]
    @Option(help: "Seconds measured per cell.")
    var window: Int = 5
    @Option(help: "Seconds from the streams' arrival to the measurement (TCP's slow start).")
    var warmup: Int = 2
    @Option(help: "TCP congestion control for the relay, the streams' sender (default: the kernel's, bbr here); one of net.ipv4.tcp_allowed_congestion_control (reno bbr here: a lab namespace may not pick others).")
    var congestion: String?
    @Option(help: "Name prefix of the lab (1–6 of a-z, 0-9, '-').")
    var prefix: String = "bg-"
    @OptionGroup var federation: FederationOptions

    /// Seconds a cell's streams get to arrive (a TLS handshake across a lossy link, a relay
    /// that waits a second between tries); the first cell of a load also pulls the relay's image.
    static let arrival: Duration = .seconds(60)
    /// Cells that fail one after the other before the run gives up (the lab is broken).
    static let failuresInARow = 3

    func validate() throws {
        if let bad = delays.first(where: { !(0...5000).contains($0) }) { throw ValidationError("delays must be 0 to 5000 ms, not \(bad)") }
        if let bad = losses.first(where: { !(0...90).contains($0) }) { throw ValidationError("losses must be 0 to 90 %, not \(bad)") }
        if let bad = streams.first(where: { !(1...32).contains($0) }) { throw ValidationError("--streams must be 1 to 32, not \(bad)") }
        if let bad = unlimited.first(where: { !(0...8).contains($0) }) { throw ValidationError("--unlimited must be 0 to 8, not \(bad)") }
        guard (2...120).contains(window), (0...60).contains(warmup) else { throw ValidationError("--window must be 2 to 120 s, --warmup 0 to 60 s") }
        if let congestion, congestion.isEmpty || !congestion.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
            throw ValidationError("--congestion must name an algorithm (e.g. cubic), not '\(congestion)'")
        }
    }

    var grid: (delays: [Double], losses: [Double], loads: [VideoLoad]) {
        (delays.isEmpty ? (quick ? VideoGridResults.quickDelaysMs : VideoGridResults.paperDelaysMs) : delays,
         losses.isEmpty ? (quick ? VideoGridResults.quickLossesPercent : VideoGridResults.paperLossesPercent) : losses,
         unlimited.filter { $0 > 0 }.map { VideoLoad(streams: $0, realTime: false) } + streams.map { VideoLoad(streams: $0, realTime: true) })
    }

    func run() throws {
        let fusePath = try federation.fusePath()
        let output = try BenchOutput(bench.out)
        let clock = BenchClock(part: "video-grid")
        let progress = Progress()
        let (delays, losses, loads) = grid
        var measurements: [VideoGridResults.Measurement] = []
        var algorithm: String?
        func results() -> VideoGridResults {
            VideoGridResults(delaysMs: delays, lossesPercent: losses, loads: loads, windowSeconds: Double(window), congestionControl: algorithm,
                             measurements: measurements)
        }
        try withBenchLab(prefix: prefix, apiPort: federation.apiPort, wgPort: federation.wgPort, progress: progress) { lab in
            let node = LifecycleBench(lab: lab, fusePath: try copyFuse(fusePath, into: lab), progress: progress)
            _ = try node.fuse("master", ["master", "init", "--name", "videogrid", "--endpoint", lab.masterEndpoint,
                                         "--api-port", String(lab.apiPort), "--wg-port", String(lab.wgPort)])
            _ = try node.fuse("master", ["master", "start"])
            _ = try node.join("a1", domain: "companyA")
            let members = try Demo.members(from: try node.fuse("master", ["nodes", "--json"]), lab: lab)
            guard let master = members.first(where: { $0.node == lab.topology.masterNodeId })?.address else { throw LabError("no master in 'fuse nodes'") }
            try LabVideo.importRelayImage(lab: lab, fuse: node.fuse)
            let meter = try VideoGridMeter(lab: lab, window: window, warmup: warmup)
            let total = loads.count * delays.count * losses.count
            var port = 9000, failedInARow = 0
            for load in loads {
                let names = (1...load.streams).map { "\(load.slug)-\($0)" }
                let ports = names.map { _ in port += 1; return port }
                progress("\(load.title): starting the cameras on cam and a relay on a1")
                let cameras = try meter.start(names, ports: ports, realTime: load.realTime)
                try LabVideo.deployRelays(lab: lab, master: "\(master):\(lab.apiPort)", cameras: cameras, stack: "grid-" + load.slug, fuse: node.fuse)
                try meter.arrive(names, since: [:], timeout: .seconds(120))
                algorithm = try meter.relayCongestionControl(stream: names[0], set: congestion)
                progress("the relay's TCP congestion control: \(algorithm ?? "?")")
                try meter.stop(cameras)
                for delay in delays {
                    for loss in losses {
                        let measurement = meter.measure(load, names: names, ports: ports, delayMs: delay, lossPercent: loss)
                        measurements.append(measurement)
                        progress("[\(measurements.count)/\(total)] \(load.title), \(BenchReport.number(delay)) ms / \(BenchReport.number(loss)) %: "
                                 + Self.summary(measurement, in: results()))
                        failedInARow = measurement.error == nil ? 0 : failedInARow + 1
                        if failedInARow >= Self.failuresInARow { throw LabError("\(failedInARow) cells failed one after the other; last: \(measurement.error ?? "")") }
                    }
                }
                _ = try node.fuse("master", ["undeploy", "grid-" + load.slug])
                _ = try output.record(PaperResults.files.videoGrid, BenchPart(context: clock.context(), results: results()))
            }
            try lab.clearImpairment("companyA")
        }
        let final = results()
        var paths = try output.write([("video-grid.csv", final.csv)] + final.charts.map { ($0.name, $0.svg) })
        paths += try output.record(PaperResults.files.videoGrid, BenchPart(context: clock.context(), results: final))
        if bench.json {
            printJSON(try benchEncoder().encode(final))
            return
        }
        for load in loads {
            print("\(load.title): fps per stream at the master's ingest (sd of single seconds, or the slowest stream); paper: 1 stream, not rate-limited, 29 fps at 100 ms / 0.2 %, 17 at 50 ms / 1 %, ≈ 408 clean:")
            print(renderTable(["DELAY \\ LOSS"] + losses.map { BenchReport.number($0) + " %" }, delays.map { delay in
                [BenchReport.number(delay) + " ms"] + losses.map { final.cellText(load, delayMs: delay, lossPercent: $0) }
            }), terminator: "\n")
        }
        print("wrote:\n" + paths.map { "  " + $0 }.joined(separator: "\n"))
    }

    static func summary(_ measurement: VideoGridResults.Measurement, in results: VideoGridResults) -> String {
        if let error = measurement.error { return "failed: \(error)" }
        guard let cell = results.cell(measurement.load, delayMs: measurement.delayMs, lossPercent: measurement.lossPercent) else { return "no streams" }
        return String(format: "%@ fps a stream (slowest %@; seconds %@–%@, sd %.0f %%); CPU master %.0f %%, hub %.0f %%",
                      VideoGridResults.fpsText(cell.meanFPS), VideoGridResults.fpsText(cell.slowestFPS, down: true),
                      VideoGridResults.fpsText(cell.seconds?.min ?? 0, down: true), VideoGridResults.fpsText(cell.seconds?.max ?? 0),
                      cell.deviationPercent ?? 0, measurement.masterCPU, measurement.hubCPU)
    }
}

/// One cell of the video grid on a running lab: impair companyA's link, start the cameras,
/// count each stream's frames at the master's ingest every second, clean the link, stop them.
struct VideoGridMeter {
    let lab: Lab
    let window: Int
    let warmup: Int
    let masterPID: pid_t
    let hubPID: pid_t

    init(lab: Lab, window: Int, warmup: Int) throws {
        guard let state = try lab.node(lab.topology.masterNodeId).stateDir else { throw LabError("the lab has no master") }
        self.lab = lab
        self.window = window
        self.warmup = warmup
        masterPID = try LifecycleBench.pid(from: state + "/master/master.pid")
        hubPID = try LifecycleBench.pid(from: state + "/node/wireguard.pid")
    }

    static let link = "companyA", device = "cam"

    /// Each camera's frames received so far, by camera name (`companyA/NAME` in /metrics).
    func frames(_ names: [String]) throws -> [String: Double] { try read("fuse_stream_frames_total", names, in: try LabVideo.metrics(lab: lab)) }

    func read(_ metric: String, _ names: [String], in metrics: String) throws -> [String: Double] {
        let all = LabVideo.streamValues(metric, in: metrics)
        return Dictionary(uniqueKeysWithValues: names.map { ($0, all["\(Self.link)/\($0)"] ?? 0) })
    }

    func start(_ names: [String], ports: [Int], realTime: Bool) throws -> [LabCamera] {
        var cameras: [LabCamera] = []
        do {
            for (name, port) in zip(names, ports) {
                cameras.append(try LabCamera.start(in: lab, node: Self.device, name: name, port: port, realTime: realTime))
            }
        } catch {
            cameras.forEach { $0.stop() }
            throw error
        }
        return cameras
    }

    /// Waits until every stream has delivered frames since `baseline`.
    func arrive(_ names: [String], since baseline: [String: Double], timeout: Duration) throws {
        var late = names
        let arrived = pollUntil(timeout, every: .milliseconds(250)) {
            guard let now = try? frames(names) else { return false }
            late = names.filter { (now[$0] ?? 0) <= (baseline[$0] ?? 0) }
            return late.isEmpty
        }
        if !arrived { throw LabError("no frames of \(late.joined(separator: ", ")) reached the master within \(BenchReport.number(timeout.inSeconds)) s") }
    }

    /// Stops the cameras on a clean link, and waits until the master has ended their streams
    /// (a new connection of the same stream is refused while the old one lasts).
    func stop(_ cameras: [LabCamera]) throws {
        try lab.impair(Self.link, .none)
        cameras.forEach { $0.stop() }
        let names = cameras.map(\.name)
        _ = pollUntil(.seconds(15), every: .milliseconds(250)) {
            let fps = (try? LabVideo.ingestFPS(lab: lab)) ?? [:]
            return names.allSatisfy { (fps["\(Self.link)/\($0)"] ?? 0) == 0 }
        }
    }

    /// The TCP congestion control in the network namespace of the relay that pushes `stream`
    /// (found by its curl, which names the stream), set to `name` first when given.
    func relayCongestionControl(stream: String, set name: String?) throws -> String {
        let push = "/v1/streams/\(Self.link)/\(stream)"
        guard let relay = Daemon.commandLines().first(where: { $0.arguments.first?.hasSuffix("curl") == true && $0.arguments.contains { $0.hasSuffix(push) } }) else {
            throw LabError("no relay process pushes \(push)")
        }
        let inRelay = ["nsenter", "-t", String(relay.pid), "-n"]
        let runner = HostCommandRunner(timeout: .seconds(10))
        if let name {
            let set = try runner.run(inRelay + ["sysctl", "-q", "-w", "net.ipv4.tcp_congestion_control=\(name)"])
            guard set.succeeded else { throw LabError("cannot set the relay's TCP congestion control to \(name): \(oneLine(SystemError(set.stderr)))") }
        }
        let read = try runner.run(inRelay + ["cat", "/proc/sys/net/ipv4/tcp_congestion_control"])
        guard read.succeeded else { throw LabError("cannot read the relay's TCP congestion control: \(oneLine(SystemError(read.stderr)))") }
        return read.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// What companyA's forwarder has seen so far, both directions: packets and random drops.
    func linkCounters() -> (packets: Int, lost: Int)? {
        guard let status = lab.impairments().first(where: { $0.link == Self.link })?.status else { return nil }
        return (status.toDomain.packets + status.fromDomain.packets, status.toDomain.lost + status.fromDomain.lost)
    }

    func measure(_ load: VideoLoad, names: [String], ports: [Int], delayMs: Double, lossPercent: Double) -> VideoGridResults.Measurement {
        var cameras: [LabCamera] = []
        func failed(_ error: Error) -> VideoGridResults.Measurement {
            VideoGridResults.Measurement(load: load, delayMs: delayMs, lossPercent: lossPercent, streamFPS: [], secondFPS: [], error: oneLine(error))
        }
        do {
            defer { try? stop(cameras) }
            try lab.impair(Self.link, LinkImpairment(delay: delayMs / 1000, loss: lossPercent / 100))
            let baseline = try frames(names)
            cameras = try start(names, ports: ports, realTime: load.realTime)
            try arrive(names, since: baseline, timeout: BenchVideoGrid.arrival)
            let clock = ContinuousClock(), arrived = clock.now
            let warm = arrived + .seconds(warmup)
            if warm > clock.now { Thread.sleep(forTimeInterval: (warm - clock.now).inSeconds) }  // TCP's slow start, not a wait for a condition
            let start = clock.now
            let cpuBefore = (master: ProcessTotals.ticks([masterPID]), hub: ProcessTotals.ticks([hubPID]))
            let linkBefore = linkCounters()
            var reads: [(at: Double, frames: [String: Double])] = [(0, try frames(names))]
            var latency: [String: Double] = [:]
            for second in 1...window {
                let next = start + .seconds(second)
                if next > clock.now { Thread.sleep(forTimeInterval: (next - clock.now).inSeconds) }
                let before = clock.now
                let metrics = try LabVideo.metrics(lab: lab)
                // The read takes a while: date it halfway.
                reads.append((((before - start) + (clock.now - before) / 2).inSeconds, try read("fuse_stream_frames_total", names, in: metrics)))
                latency = try read("fuse_stream_latency_seconds", names, in: metrics)
            }
            let elapsed = (clock.now - start).inSeconds
            let link = linkCounters().map { after in (packets: after.packets - (linkBefore?.packets ?? 0), lost: after.lost - (linkBefore?.lost ?? 0)) }
            let hertz = Double(sysconf(Int32(_SC_CLK_TCK)))
            func cpu(_ before: Int, _ pid: pid_t) -> Double { Double(ProcessTotals.ticks([pid]) - before) / hertz / elapsed * 100 }
            let (first, last) = (reads[0], reads[reads.count - 1])
            return VideoGridResults.Measurement(
                load: load, delayMs: delayMs, lossPercent: lossPercent,
                streamFPS: names.map { ((last.frames[$0] ?? 0) - (first.frames[$0] ?? 0)) / (last.at - first.at) },
                secondFPS: names.map { name in
                    zip(reads, reads.dropFirst()).map { ((($1.frames[name] ?? 0) - ($0.frames[name] ?? 0))) / ($1.at - $0.at) }
                },
                masterCPU: cpu(cpuBefore.master, masterPID), hubCPU: cpu(cpuBefore.hub, hubPID), latencyMs: latency.isEmpty ? nil : latency.values.reduce(0, +) / Double(latency.count) * 1000,
                linkPackets: link?.packets, linkLostPercent: link.flatMap { $0.packets > 0 ? Double($0.lost) / Double($0.packets) * 100 : nil })
        } catch {
            return failed(error)
        }
    }
}
