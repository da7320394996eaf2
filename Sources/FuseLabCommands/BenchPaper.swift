import ArgumentParser
import Foundation
import FuseSystem
import FuseModel
import FuseLab

struct BenchPaper: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paper",
        abstract: "Every part of the paper's section 5, one after the other, and report.md with the paper's figures beside ours.",
        discussion: """
            Runs 'bench footprint', 'bench lifecycle' (--runs, default 10), 'bench join-grid' \
            (5 runs a cell over the paper's 5 × 5 grid), 'bench throughput' and 'bench \
            video-grid' (the paper's 5 × 4 grid of Fig. 7), each in a lab of its own, all writing \
            to --out; report.md is rewritten after each part, so a part that fails leaves the \
            others' figures. --quick: 3 lifecycle runs, the 3 × 3 grids (join grid with 3 runs), \
            3-second iperf3 runs. 'video' ('bench video': the streams kept at 24 fps on a clean \
            link, ~6 min without its browser phase) is not in the default parts, to keep the \
            whole run under 45 minutes: add it with --parts; report.md shows its figures \
            whenever video.json is in --out.
            """)

    @OptionGroup var bench: BenchOptions
    @Option(help: "Lifecycle runs (default 10; --quick: 3).")
    var runs: Int?
    @Flag(help: "A quicker, smaller run (see above).")
    var quick = false
    @Option(parsing: .upToNextOption, help: "The parts to run (default: all but video): footprint lifecycle join-grid throughput video-grid video.")
    var parts: [String] = ["footprint", "lifecycle", "join-grid", "throughput", "video-grid"]
    @Option(help: "The fuse binary (default: 'fuse' next to this fuse-lab executable).")
    var fuse: String?

    func validate() throws {
        let known = ["footprint", "lifecycle", "join-grid", "throughput", "video-grid", "video"]
        if let bad = parts.first(where: { !known.contains($0) }) { throw ValidationError("unknown part '\(bad)'; parts: \(known.joined(separator: ", "))") }
    }

    func run() throws {
        let common = ["--out", bench.out] + (fuse.map { ["--fuse", $0] } ?? [])
        var failures: [String] = []
        let clock = ContinuousClock.now
        for part in parts {
            FileHandle.standardError.write(Data("fuse-lab bench paper: \(part)\n".utf8))
            do {
                switch part {
                case "footprint": try BenchFootprint.parse(common).run()
                case "lifecycle": try BenchLifecycle.parse(common + ["--runs", String(runs ?? (quick ? 3 : 10))]).run()
                case "join-grid": try BenchJoinGrid.parse(common + (quick ? ["--quick"] : [])).run()
                case "video-grid": try BenchVideoGrid.parse(common + (quick ? ["--quick"] : [])).run()
                case "video": try BenchVideo.parse(common + ["--no-tiles"]).run()
                default: try BenchThroughput.parse(common + (quick ? ["--seconds", "3"] : [])).run()
                }
            } catch {
                failures.append("\(part): \(oneLine(error))")
                FileHandle.standardError.write(Data("fuse-lab bench paper: \(part) failed: \(oneLine(error))\n".utf8))
            }
        }
        let report = try BenchOutput(bench.out).writeReport()
        print(String(format: "bench paper: %.0f s; report: %@", (ContinuousClock.now - clock).inSeconds, report))
        if !failures.isEmpty { throw LabError("parts failed: \(failures.joined(separator: "; "))") }
    }
}

struct BenchReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Rewrite report.md, the plots and the video CSV files from the part files (footprint.json, lifecycle.json, join-grid.json, throughput.json, video-grid.json, video.json) in --out.")

    @Option(help: "The bench output directory.")
    var out: String = "bench-results"

    func run() throws {
        let output = try BenchOutput(out)
        let results = try PaperResults.load(from: out)
        var files: [(String, String)] = []
        if let part = results.footprint { files.append(("footprint.svg", BenchFootprint.chart(part.results.rows))) }
        if let part = results.lifecycle { files.append(("lifecycle.svg", BenchReport.lifecycleSVG(BenchReport.summarize(part.results), runs: part.results.count))) }
        if let part = results.joinGrid { files += [("join-grid.svg", part.results.heatMapSVG), ("join-lines.svg", part.results.linesSVG)] }
        if let part = results.throughput { files.append(("throughput.svg", part.results.svg)) }
        if let part = results.videoGrid { files += [("video-grid.csv", part.results.csv)] + part.results.charts.map { ($0.name, $0.svg) } }
        if let part = results.video { files.append(("video.csv", part.results.csv)) }
        for path in try output.write(files) + [try output.writeReport()] { print(path) }
    }
}
