import Foundation
import FoundationXML
import Testing
@testable import FuseLab

/// The video parts of the paper report: the Fig. 7 grid (`bench video-grid`) and the streams at
/// 24 fps (`bench video`), from their part files to report.md, CSV and SVG. Pure, in process.
@Suite struct VideoReportTests {
    static let free = VideoLoad(streams: 1, realTime: false)
    static let one = VideoLoad(streams: 1, realTime: true)
    static let ten = VideoLoad(streams: 10, realTime: true)

    static var grid: VideoGridResults {
        VideoGridResults(delaysMs: [0, 50, 100], lossesPercent: [0, 0.2, 1], loads: [free, one, ten], windowSeconds: 5, measurements: [
            .init(load: free, delayMs: 0, lossPercent: 0, streamFPS: [400], secondFPS: [[390, 410]], masterCPU: 80, hubCPU: 40,
                  latencyMs: 2.6, linkPackets: 123456, linkLostPercent: 0),
            .init(load: free, delayMs: 100, lossPercent: 0.2, streamFPS: [58], secondFPS: [[50, 66]]),
            .init(load: free, delayMs: 50, lossPercent: 1, streamFPS: [8.5], secondFPS: [[8, 9]]),
            .init(load: one, delayMs: 50, lossPercent: 1, streamFPS: [25], secondFPS: [[25, 25]]),
            .init(load: one, delayMs: 100, lossPercent: 0.2, streamFPS: [24.9], secondFPS: [[24.8, 25]]),
            .init(load: ten, delayMs: 50, lossPercent: 1, streamFPS: Array(repeating: 25, count: 9) + [20],
                  secondFPS: Array(repeating: [25, 25], count: 9) + [[20, 20]]),
            .init(load: ten, delayMs: 100, lossPercent: 1, streamFPS: [], secondFPS: [],
                  error: "no frames of live-10-3 reached the master within 60 s"),
        ])
    }

    static var streams: VideoStreamsResults {
        VideoStreamsResults(rows: [
            .init(streams: 4, atFullRate: 4, minFPS: 24.9, meanFPS: 25, latencyMilliseconds: 8),
            .init(streams: 48, atFullRate: 48, minFPS: 26.8, meanFPS: 27, latencyMilliseconds: 2400, cpu: ["master": 27, "hub": 25], rssMiB: ["master": 135]),
            .init(streams: 52, atFullRate: 42, minFPS: 22.5, meanFPS: 24, latencyMilliseconds: 500),
        ], stoppedAtMax: false, tiles: [.init(tiles: 16, minFPS: 12, meanFPS: 14), .init(tiles: 14, minFPS: 24.5, meanFPS: 25)])
    }

    static var report: String {
        PaperReport.render(PaperResults(videoGrid: BenchPart(context: PaperReportTests.context, results: grid),
                                        video: BenchPart(context: PaperReportTests.context, results: streams)))
    }

    @Test func ratiosPutThePapersFig7PointsBesideTheSameCells() {
        let ratios = Self.report.components(separatedBy: "## Footprint")[0]
        #expect(ratios.contains("| video fps, 1 stream, frame rate not limited, clean link (Fig. 7) | 400 fps | ≈ 408 fps (17 streams × 24, the paper's estimate) | 0.98× |"), "\(ratios)")
        #expect(ratios.contains("| video fps, 1 stream, frame rate not limited, 100 ms / 0.2 % (Fig. 7) | 58.0 fps | 29 fps | 2.00× |"))
        #expect(ratios.contains("| video fps, 1 stream, frame rate not limited, 50 ms / 1 % (Fig. 7) | 8.5 fps | 17 fps | 0.50× |"))
        #expect(ratios.contains("| video fps, 1 camera at 25 fps, 50 ms / 1 % (Fig. 7) | 25.0 fps | 17 fps (paper: 1 stream, not rate-limited) | 1.47× |"))
        #expect(ratios.contains("| video fps, 10 cameras at 25 fps, 50 ms / 1 % (Fig. 7) | 24.5 fps (slowest 20.0) | 17 fps (paper: 1 stream, not rate-limited) | 1.44× |"))
        #expect(ratios.contains("| video fps, 1 camera at 25 fps, 100 ms / 0.2 % (Fig. 7) | 24.9 fps | 29 fps (paper: 1 stream, not rate-limited; compared with the 25 fps a camera sends at most) | 1.00× |"),
                "a camera's 25 fps is the most it can show beside the paper's 29")
        #expect(!ratios.contains("10 cameras at 25 fps, 100 ms / 0.2 %"), "a cell that was not measured has no row")
        #expect(ratios.contains("| 720p ~2 Mbit/s streams at ≥ 24 fps each, clean link | 48 | 17 (estimated) | 2.82× |"))
        // The paper's test comes first.
        let order = ["frame rate not limited, clean link", "1 camera at 25 fps, 50 ms", "10 cameras at 25 fps, 50 ms", "720p"]
            .compactMap { ratios.range(of: $0)?.lowerBound }
        #expect(order.count == 4 && order == order.sorted())
    }

    @Test func eachLoadHasItsGridWithThePapersValuesInTheirCells() {
        let report = Self.report
        #expect(report.contains("### 1 stream, frame rate not limited\n\n| delay \\ loss | 0 % | 0.2 % | 1 % |"), "\(report)")
        // sd of single seconds: 390 and 410 → 14.1 fps, 4 % of 400.
        #expect(report.contains("| 0 ms | 400 (sd 4 %) | — | — |"))
        #expect(report.contains("| 50 ms | — | — | 8.5 (sd 8 %); paper 17 |"))
        #expect(report.contains("| 100 ms | — | 58.0 (sd 20 %); paper 29 | — |"))
        #expect(report.contains("| 50 ms | — | — | 24.5 (slowest 20.0); paper 17 |"))
        #expect(report.contains("| 100 ms | — | —; paper 29 | failed |"), "the paper's value stands beside a cell we did not measure")
        #expect(report.contains("- 100 ms / 1 % failed: no frames of live-10-3 reached the master within 60 s"))
        #expect(report.contains("![10 cameras at 25 fps: heat map](video-grid-live-10.svg)"))
        #expect(report.contains("![1 stream, frame rate not limited: fps over delay](video-lines-unlimited-1.svg)"))
        #expect(!report.contains(PaperReport.videoPlaceholder) && !report.contains(PaperReport.streamsPlaceholder))
    }

    @Test func streamsAt24FPSComeFromBenchVideosPart() {
        let report = Self.report
        #expect(report.contains("| 48 | yes | 26.8 | 27.0 | 2400 | 27 | 25 | 0 | 0 | 0 |"), "\(report)")
        #expect(report.contains("| 52 | 42 of 52 | 22.5 | 24.0 | 500 |"))
        #expect(report.contains("Streams carried with every one at ≥ 24 fps: **48** (paper: 17, estimated)."))
        #expect(report.contains("kept at ≥ 24 fps each: 14 (16 tiles: min 12.0 fps, 14 tiles: min 24.5 fps)."))
        let more = VideoStreamsResults(rows: [.init(streams: 8, atFullRate: 8)], stoppedAtMax: true)
        #expect(PaperReport.render(PaperResults(video: BenchPart(context: PaperReportTests.context, results: more)))
            .contains("| 720p ~2 Mbit/s streams at ≥ 24 fps each, clean link | ≥ 8 | 17 (estimated) | 0.47× |"))
    }

    @Test func missingVideoPartsSayWhichCommandMeasuresThem() {
        let report = PaperReport.render(PaperResults())
        #expect(report.contains(PaperReport.videoPlaceholder))
        #expect(report.contains(PaperReport.streamsPlaceholder))
        #expect(!report.contains("video fps"))
    }

    @Test func slowestFiguresAreRoundedDownSoThatAMissReadsAsOne() {
        #expect(VideoGridResults.fpsText(23.96) == "24.0")
        #expect(VideoGridResults.fpsText(23.96, down: true) == "23.9")
        #expect(VideoGridResults.fpsText(24.6, down: true) == "24.6")
        #expect(VideoGridResults.fpsText(1036.7, down: true) == "1036")
        #expect(VideoGridResults.fpsText(1036.7) == "1037")
    }

    @Test func gridCSVHasALinePerMeasuredCell() {
        let lines = Self.grid.csv.split(separator: "\n").map(String.init)
        #expect(lines.count == 1 + 7)
        #expect(lines[0] == "pace,streams,delay_ms,loss_percent,mean_fps,slowest_stream_fps,streams_at_24fps,slowest_second_fps,fastest_second_fps,second_sd_percent,master_cpu_percent,hub_cpu_percent,latency_ms,link_packets,link_lost_percent,error")
        #expect(lines[1] == "unlimited,1,0,0,400,400,1,390,410,4,80,40,3,123456,0,")
        #expect(lines.contains("real-time,10,50,1,24.5,20,9,20,25,6,0,0,,,,"), "\(lines)")
        #expect(lines.last == "real-time,10,100,1,,,,,,,0,0,,,,no frames of live-10-3 reached the master within 60 s")
    }

    @Test func streamsCSVHasEveryGroupsCPUAndMemory() {
        let lines = Self.streams.csv.split(separator: "\n").map(String.init)
        #expect(lines[0] == "streams,at_full_rate,min_fps,mean_fps,latency_ms,master_cpu_percent,master_rss_mib,hub_cpu_percent,hub_rss_mib,workers_cpu_percent,workers_rss_mib,relays_cpu_percent,relays_rss_mib,cameras_cpu_percent,cameras_rss_mib")
        #expect(lines[2] == "48,48,26.8,27,2400,27,135,25,0,0,0,0,0,0,0")
        #expect(Self.streams.carried == 48 && Self.streams.tilesKept == 14)
    }

    @Test func partFilesRoundTripAndABrokenOneIsNamed() throws {
        let directory = NSTemporaryDirectory() + "/video-report-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let grid = BenchPart(context: PaperReportTests.context, results: Self.grid)
        let streams = BenchPart(context: PaperReportTests.context, results: Self.streams)
        try benchEncoder().encode(grid).write(to: URL(fileURLWithPath: directory + "/" + PaperResults.files.videoGrid))
        try benchEncoder().encode(streams).write(to: URL(fileURLWithPath: directory + "/" + PaperResults.files.video))
        let loaded = try PaperResults.load(from: directory)
        #expect(loaded.videoGrid == grid)
        #expect(loaded.video == streams)
        #expect(loaded.joinGrid == nil)
        try Data(#"{"context":{}}"#.utf8).write(to: URL(fileURLWithPath: directory + "/" + PaperResults.files.videoGrid))
        #expect(throws: LabError.self) { try PaperResults.load(from: directory) }
    }

    @Test func chartsAreWellFormedWithThePapersPointsAndFastCellsLight() throws {
        let charts = Self.grid.charts
        #expect(charts.map(\.name) == ["video-grid-unlimited-1.svg", "video-lines-unlimited-1.svg", "video-grid-live-1.svg", "video-lines-live-1.svg",
                                       "video-grid-live-10.svg", "video-lines-live-10.svg"])
        for chart in charts {
            let document = try XMLDocument(data: Data(chart.svg.utf8))
            #expect(document.rootElement()?.name == "svg")
            #expect(!chart.svg.contains("nan") && !chart.svg.contains("inf"))
        }
        let lines = Self.grid.linesSVG(Self.free)
        #expect(lines.contains(">paper 29 fps</text>") && lines.contains(">paper 17 fps</text>"))
        #expect(Self.grid.linesSVG(Self.ten).contains("× at the top: the cell failed"))
        #expect(Self.grid.heatMapSVG(Self.ten).contains(">slowest 20.0</text>") && Self.grid.heatMapSVG(Self.ten).contains(">9 of 10 ≥ 24 fps</text>"))
        #expect(Self.grid.heatMapSVG(Self.ten).contains(">failed</text>"))
        // Higher is better: 25 fps (and above, clamped) light, 1 fps dark.
        let map = BenchReport.heatMapSVG(title: "t", subtitle: nil, rowTitle: "r", columnTitle: "c", rows: ["a"], columns: ["x", "y", "z"],
                                         values: [[25, 1, 100]], labels: [["", "", ""]], domain: (1, 25), higherIsBetter: true)
        #expect(map.components(separatedBy: ##"fill="#ffeda0""##).count - 1 == 2)
        #expect(map.contains(##"fill="#9b251e""##))
    }
}
