import ArgumentParser
import Foundation
import FuseLab
import FuseSystem

struct BenchJoinGrid: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join-grid",
        abstract: "Time a worker's join over a delay × loss grid of its WAN link (the paper's Fig. 5).",
        discussion: """
            Brings up one lab and a master, then per cell impairs companyA's WAN link (delay is \
            round trip, loss each direction; see 'fuse-lab impair') and times 'fuse join' on a1 \
            --runs times (after three failures the rest of a cell is left out), until the node is enrolled and its tunnel carries traffic (with \
            --workloads: until its engine is in the Swarm). Between joins the link is clean again and a1 leaves (not timed). \
            Writes join-grid.csv (every join), join-grid-summary.csv, join-grid.svg (heat map), \
            join-lines.svg (Fig. 5's lines), join-grid.json and report.md.
            """)

    @OptionGroup var bench: BenchOptions
    @Option(help: "Joins per cell (default 5; --quick: 3).")
    var runs: Int?
    @Flag(help: "A smaller grid: delay {0, 200, 400} ms × loss {0, 10, 20} %, and 3 runs unless --runs is given.")
    var quick = false
    @Option(parsing: .upToNextOption, help: "Round-trip delays in ms (default: the paper's 0 100 200 300 400).")
    var delays: [Double] = []
    @Option(parsing: .upToNextOption, help: "Losses in % (default: the paper's 0 5 10 15 20).")
    var losses: [Double] = []
    @Flag(help: "Join with workloads (the node's engine joins the Swarm over the impaired link): closer to the paper's join, which included Kubernetes, but a cycle of join and leave then takes about 10 s more, so the full grid takes over half an hour. Default: enrolment and tunnel only.")
    var workloads = false
    @Option(help: "Seconds after which one join counts as failed ('fuse join --timeout').")
    var joinTimeout: Int = 30
    @Option(help: "Name prefix of the lab (1–6 of a-z, 0-9, '-').")
    var prefix: String = "bj-"
    @OptionGroup var federation: FederationOptions

    func validate() throws {
        if let runs, !(1...50).contains(runs) { throw ValidationError("--runs must be 1 to 50, not \(runs)") }
        if let bad = delays.first(where: { !(0...5000).contains($0) }) { throw ValidationError("delays must be 0 to 5000 ms, not \(bad)") }
        if let bad = losses.first(where: { !(0...90).contains($0) }) { throw ValidationError("losses must be 0 to 90 %, not \(bad)") }
    }

    var grid: (delays: [Double], losses: [Double], runs: Int) {
        return (delays.isEmpty ? (quick ? JoinGridResults.quickDelaysMs : JoinGridResults.paperDelaysMs) : delays,
                losses.isEmpty ? (quick ? JoinGridResults.quickLossesPercent : JoinGridResults.paperLossesPercent) : losses,
                runs ?? (quick ? 3 : 5))
    }

    func run() throws {
        let fusePath = try federation.fusePath()
        let output = try BenchOutput(bench.out)
        let clock = BenchClock(part: "join-grid")
        let progress = Progress()
        let (delays, losses, runs) = grid
        var joins: [JoinGridResults.Join] = []
        try withBenchLab(prefix: prefix, apiPort: federation.apiPort, wgPort: federation.wgPort, progress: progress) { lab in
            let node = LifecycleBench(lab: lab, fusePath: try copyFuse(fusePath, into: lab), progress: progress)
            _ = try node.fuse("master", ["master", "init", "--name", "grid", "--domain", "crisis", "--endpoint", lab.masterEndpoint,
                                         "--api-port", String(lab.apiPort), "--wg-port", String(lab.wgPort)] + (workloads ? [] : ["--no-workloads"]))
            _ = try node.fuse("master", ["master", "start"])
            let total = delays.count * losses.count * runs
            for delay in delays {
                for loss in losses {
                    for run in 1...runs {
                        // Three failures in a cell (most of its runs): the rest would fail the
                        // same way, slowly; they are left out.
                        let failures = joins.filter { $0.delayMs == delay && $0.lossPercent == loss && $0.seconds == nil }.count
                        if failures >= 3 {
                            progress(String(format: "%.0f ms, %.0f %% loss, run %d: not run (three joins of this cell failed)", delay, loss, run))
                            continue
                        }
                        try lab.impair("companyA", LinkImpairment(delay: delay / 1000, loss: loss / 100))
                        let join = try Demo.joinString(from: try node.fuse("master", ["token", "create", "--domain", "companyA", "--json"]))
                        let (result, seconds) = try node.timed {
                            try lab.exec("a1", [node.fusePath, "join", "-", "--name", "a1", "--json", "--timeout", String(joinTimeout)]
                                         + (workloads ? [] : ["--no-workloads"]), input: join, timeout: .seconds(Int64(joinTimeout) + 60))
                        }
                        let error = result.succeeded ? nil : (result.status == 124 ? "timed out after \(joinTimeout) s" : oneLine(SystemError(result.stderr.isEmpty ? result.stdout : result.stderr)))
                        joins.append(JoinGridResults.Join(delayMs: delay, lossPercent: loss, run: run, seconds: error == nil ? seconds : nil, error: error))
                        progress(String(format: "[%d/%d] %.0f ms, %.0f %% loss, run %d: %@", joins.count, total, delay, loss, run,
                                        error.map { "failed: \($0)" } ?? String(format: "join %.2f s", seconds)))
                        // Leave over a clean link: only the join is timed.
                        try lab.impair("companyA", .none)
                        if error == nil {
                            let leave = try lab.exec("a1", [node.fusePath, "leave"], timeout: .seconds(120))
                            if !leave.succeeded { throw LabError("a1 cannot leave after run \(run): \(oneLine(SystemError(leave.stderr)))") }
                        } else {
                            // A failed join deregisters over the impaired link and may not get
                            // through: the master would keep a1 and refuse the next join by name.
                            // The operator's remedy: remove the node on the master.
                            _ = try? lab.exec("a1", [node.fusePath, "leave"], timeout: .seconds(60))
                            _ = try? lab.exec("master", [node.fusePath, "node", "remove", "a1"], timeout: .seconds(60))
                        }
                    }
                }
            }
            try lab.clearImpairment("companyA")
        }
        let results = JoinGridResults(delaysMs: delays, lossesPercent: losses, runsPerCell: runs, workloads: workloads, joins: joins)
        var paths = try output.write([("join-grid.csv", results.csv), ("join-grid-summary.csv", results.summaryCSV),
                                      ("join-grid.svg", results.heatMapSVG), ("join-lines.svg", results.linesSVG)])
        paths += try output.record(PaperResults.files.joinGrid, BenchPart(context: clock.context(), results: results))
        if bench.json {
            printJSON(try benchEncoder().encode(results))
            return
        }
        print("worker join (s, median and min–max of \(runs)); paper: 60–240 s smooth, 360–840 s at 400 ms / 20 %:")
        print(renderTable(["DELAY \\ LOSS"] + losses.map { BenchReport.number($0) + " %" }, delays.map { delay in
            [BenchReport.number(delay) + " ms"] + losses.map { loss in
                let (spread, failed) = results.cell(delayMs: delay, lossPercent: loss)
                return (spread.map { String(format: "%.1f (%.1f–%.1f)", $0.median, $0.min, $0.max) } ?? "-") + (failed > 0 ? " \(failed) failed" : "")
            }
        }), terminator: "")
        print("\nwrote:\n" + paths.map { "  " + $0 }.joined(separator: "\n"))
    }
}
