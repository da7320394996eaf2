import Foundation

/// What the cameras of one pass of the video grid send: how many streams, and whether each
/// plays in real time (25 fps, as a camera does) or as fast as the path takes it (the
/// paper's test: "the output frame rate is not limited", so fps measures bandwidth).
public struct VideoLoad: Sendable, Hashable, Codable {
    public let streams: Int
    public let realTime: Bool

    public init(streams: Int, realTime: Bool) {
        self.streams = streams
        self.realTime = realTime
    }

    public var title: String {
        realTime ? "\(streams) camera\(streams == 1 ? "" : "s") at 25 fps" : "\(streams) stream\(streams == 1 ? "" : "s"), frame rate not limited"
    }

    /// For file names: `live-10`, `unlimited-1`.
    public var slug: String { (realTime ? "live-" : "unlimited-") + String(streams) }
}

/// The video figure over a delay × loss grid (the paper's Fig. 7): per load and cell, the
/// frames per second that each camera stream of companyA delivered to the master's ingest
/// while companyA's WAN link was impaired. Pure: results, summary, CSV and plots.
public struct VideoGridResults: Sendable, Equatable, Codable {
    public struct Measurement: Sendable, Equatable, Codable {
        public let load: VideoLoad
        public let delayMs: Double
        public let lossPercent: Double
        /// Frames per second each stream delivered over the whole window.
        public let streamFPS: [Double]
        /// Per stream, its frames per second in each second of the window.
        public let secondFPS: [[Double]]
        /// CPU (% of one core) of the master process and of the hub's wireguard-go over the window.
        public let masterCPU: Double
        public let hubCPU: Double
        /// The ingest's latency, camera frame time (prft) → arrival, mean of the streams at the
        /// window's end: one way of the link's delay plus what queues (real-time cameras only
        /// say something here: an unlimited stream is stamped as fast as it is sent).
        public let latencyMs: Double?
        /// That the streams crossed the impaired link: the packets that the link's forwarder
        /// saw and dropped at random during the window (both directions).
        public let linkPackets: Int?
        public let linkLostPercent: Double?
        public let error: String?

        public init(load: VideoLoad, delayMs: Double, lossPercent: Double, streamFPS: [Double], secondFPS: [[Double]],
                    masterCPU: Double = 0, hubCPU: Double = 0, latencyMs: Double? = nil, linkPackets: Int? = nil, linkLostPercent: Double? = nil,
                    error: String? = nil) {
            self.load = load
            self.delayMs = delayMs
            self.lossPercent = lossPercent
            self.streamFPS = streamFPS
            self.secondFPS = secondFPS
            self.masterCPU = masterCPU
            self.hubCPU = hubCPU
            self.latencyMs = latencyMs
            self.linkPackets = linkPackets
            self.linkLostPercent = linkLostPercent
            self.error = error
        }
    }

    /// One cell's figures: the mean of its streams' fps, the slowest stream, how many kept
    /// 24 fps, and the spread of single seconds (all streams), with their standard deviation
    /// in % of the mean (the paper: "nearly always over 20 %").
    public struct Cell: Sendable, Equatable {
        public let meanFPS: Double
        public let slowestFPS: Double
        public let atFullRate: Int
        public let streams: Int
        public let seconds: Spread?
        public let deviationPercent: Double?
    }

    public let delaysMs: [Double]
    public let lossesPercent: [Double]
    public let loads: [VideoLoad]
    public let windowSeconds: Double
    /// The TCP congestion control of the relay's network namespace, the sender of every
    /// stream ("bbr" is this kernel's default; the paper's hosts likely ran Linux's cubic).
    public let congestionControl: String?
    public let measurements: [Measurement]

    public init(delaysMs: [Double], lossesPercent: [Double], loads: [VideoLoad], windowSeconds: Double, congestionControl: String? = nil,
                measurements: [Measurement]) {
        self.delaysMs = delaysMs
        self.lossesPercent = lossesPercent
        self.loads = loads
        self.windowSeconds = windowSeconds
        self.congestionControl = congestionControl
        self.measurements = measurements
    }

    /// The paper's grid: delay 0–100 ms in 25 ms steps × loss {0, 0.2, 1, 2} %.
    public static let paperDelaysMs: [Double] = [0, 25, 50, 75, 100]
    public static let paperLossesPercent: [Double] = [0, 0.2, 1, 2]
    /// `--quick`: the corners and the middle.
    public static let quickDelaysMs: [Double] = [0, 50, 100]
    public static let quickLossesPercent: [Double] = [0, 1, 2]
    /// The paper's minimum acceptable frame rate.
    public static let fullRate = 24.0
    /// The frame rate of the lab's cameras (and of the paper's recording).
    public static let cameraRate = 25.0

    /// What the paper's text gives of Fig. 7 (one stream, frame rate not limited): "0.2 % loss
    /// combined with 100 ms delay still results in a useful stream at 29 fps, as little as 1 %
    /// loss combined with 50 ms delay results in only 17 fps". The plot's other points are not
    /// in the text.
    public static let paperPoints: [(delayMs: Double, lossPercent: Double, fps: Double)] = [(100, 0.2, 29), (50, 1, 17)]
    /// "Good enough to handle 17 video streams simultaneously under ideal circumstances" at
    /// 24 fps each: the clean link's frame rate that this implies (the paper's estimate).
    public static let paperCleanFPS = Double(VideoStreamsResults.paperStreams) * fullRate

    public func measurement(_ load: VideoLoad, delayMs: Double, lossPercent: Double) -> Measurement? {
        measurements.first { $0.load == load && $0.delayMs == delayMs && $0.lossPercent == lossPercent }
    }

    /// nil when the cell was not measured or its measurement failed.
    public func cell(_ load: VideoLoad, delayMs: Double, lossPercent: Double) -> Cell? {
        guard let measurement = measurement(load, delayMs: delayMs, lossPercent: lossPercent), measurement.error == nil,
              !measurement.streamFPS.isEmpty else { return nil }
        let fps = measurement.streamFPS, seconds = measurement.secondFPS.flatMap { $0 }
        let mean = fps.reduce(0, +) / Double(fps.count)
        var deviation: Double?
        if seconds.count > 1 {
            let secondsMean = seconds.reduce(0, +) / Double(seconds.count)
            let variance = seconds.reduce(0) { $0 + ($1 - secondsMean) * ($1 - secondsMean) } / Double(seconds.count - 1)
            deviation = secondsMean > 0 ? variance.squareRoot() / secondsMean * 100 : nil
        }
        return Cell(meanFPS: mean, slowestFPS: fps.min() ?? 0, atFullRate: fps.filter { $0 >= Self.fullRate }.count,
                    streams: fps.count, seconds: Spread(seconds), deviationPercent: deviation)
    }

    /// A frame rate as the tables show it: one decimal below 100, whole frames above. A slowest
    /// or minimum figure is rounded down (`down`), so that 23.96 never reads as the 24 it missed.
    public static func fpsText(_ fps: Double, down: Bool = false) -> String {
        let digits = fps >= 100 ? 1.0 : 10.0
        return String(format: fps >= 100 ? "%.0f" : "%.1f", down ? (fps * digits + 1e-9).rounded(.down) / digits : fps)
    }

    /// A cell for a table: mean fps, the slowest stream where there are several, the second's
    /// deviation where there is one stream; "failed" with the reason's start otherwise.
    public func cellText(_ load: VideoLoad, delayMs: Double, lossPercent: Double) -> String {
        guard let cell = cell(load, delayMs: delayMs, lossPercent: lossPercent) else {
            return measurement(load, delayMs: delayMs, lossPercent: lossPercent)?.error.map { _ in "failed" } ?? "—"
        }
        if cell.streams > 1 {
            return Self.fpsText(cell.meanFPS) + " (slowest \(Self.fpsText(cell.slowestFPS, down: true)))"
        }
        return Self.fpsText(cell.meanFPS) + (cell.deviationPercent.map { String(format: " (sd %.0f %%)", $0) } ?? "")
    }

    public var csv: String {
        var rows: [[String]] = []
        for load in loads {
            for delay in delaysMs {
                for loss in lossesPercent {
                    guard let measurement = measurement(load, delayMs: delay, lossPercent: loss) else { continue }
                    let cell = cell(load, delayMs: delay, lossPercent: loss)
                    rows.append([load.realTime ? "real-time" : "unlimited", String(load.streams), BenchReport.number(delay), BenchReport.number(loss),
                                 cell.map { BenchReport.number(($0.meanFPS * 100).rounded() / 100) } ?? "",
                                 cell.map { BenchReport.number(($0.slowestFPS * 100).rounded() / 100) } ?? "",
                                 cell.map { String($0.atFullRate) } ?? "",
                                 cell?.seconds.map { BenchReport.number(($0.min * 100).rounded() / 100) } ?? "",
                                 cell?.seconds.map { BenchReport.number(($0.max * 100).rounded() / 100) } ?? "",
                                 cell?.deviationPercent.map { BenchReport.number($0.rounded()) } ?? "",
                                 BenchReport.number(measurement.masterCPU.rounded()), BenchReport.number(measurement.hubCPU.rounded()),
                                 measurement.latencyMs.map { BenchReport.number($0.rounded()) } ?? "",
                                 measurement.linkPackets.map(String.init) ?? "",
                                 measurement.linkLostPercent.map { BenchReport.number(($0 * 100).rounded() / 100) } ?? "",
                                 measurement.error ?? ""])
                }
            }
        }
        return BenchReport.csv(["pace", "streams", "delay_ms", "loss_percent", "mean_fps", "slowest_stream_fps", "streams_at_24fps",
                                "slowest_second_fps", "fastest_second_fps", "second_sd_percent", "master_cpu_percent", "hub_cpu_percent", "latency_ms", "link_packets", "link_lost_percent", "error"], rows)
    }

    func subtitle(_ load: VideoLoad) -> String {
        "camera on companyA's LAN → relay on a1 → tunnel across the impaired WAN link → frames at the master's ingest; \(BenchReport.number(windowSeconds)) s a cell"
            + (congestionControl.map { "; TCP \($0)" } ?? "")
    }

    /// The files of the grid's plots: a heat map and Fig. 7's lines per load.
    public var charts: [(name: String, svg: String)] {
        loads.flatMap { [("video-grid-\($0.slug).svg", heatMapSVG($0)), ("video-lines-\($0.slug).svg", linesSVG($0))] }
    }

    /// Heat map: delay down, loss across; mean fps in bold, then the slowest stream or the
    /// spread of single seconds. Light is fast, dark is slow: real-time cells from 12 (dark)
    /// to 25 fps, the others from 24 fps (the paper's minimum) to the fastest cell.
    public func heatMapSVG(_ load: VideoLoad) -> String {
        let values = delaysMs.map { delay in lossesPercent.map { cell(load, delayMs: delay, lossPercent: $0)?.meanFPS } }
        let labels = delaysMs.map { delay in
            lossesPercent.map { loss -> String in
                guard let cell = cell(load, delayMs: delay, lossPercent: loss) else {
                    return measurement(load, delayMs: delay, lossPercent: loss)?.error == nil ? "—" : "failed"
                }
                let detail = cell.streams > 1 ? "slowest \(Self.fpsText(cell.slowestFPS, down: true))\n\(cell.atFullRate) of \(cell.streams) ≥ 24 fps"
                    : cell.seconds.map { "seconds \(Self.fpsText($0.min, down: true))–\(Self.fpsText($0.max))" } ?? ""
                return Self.fpsText(cell.meanFPS) + " fps\n" + detail
            }
        }
        let top = values.flatMap { $0.compactMap { $0 } }.max() ?? 25
        return BenchReport.heatMapSVG(title: "FUSE video: frames per second delivered per stream, \(load.title), over delay × loss",
                                      subtitle: subtitle(load), rowTitle: "delay (ms, round trip)", columnTitle: "packet loss (each direction)",
                                      rows: delaysMs.map { BenchReport.number($0) + " ms" }, columns: lossesPercent.map { BenchReport.number($0) + " %" },
                                      values: values, labels: labels, domain: load.realTime ? (12, 25) : (VideoGridResults.fullRate, Swift.max(top, 2 * VideoGridResults.fullRate)),
                                      higherIsBetter: true)
    }

    /// The paper's Fig. 7: fps over delay, one line per loss (mean of the streams, bar: the
    /// slowest and fastest second of any stream); the paper's two quoted points as diamonds.
    public func linesSVG(_ load: VideoLoad) -> String {
        let series = lossesPercent.enumerated().map { ChartSeries(BenchReport.number($0.element) + " % loss", BenchReport.palette[$0.offset % BenchReport.palette.count]) }
        let points = lossesPercent.map { loss in
            delaysMs.map { delay in
                cell(load, delayMs: delay, lossPercent: loss).map { (median: $0.meanFPS, min: $0.seconds?.min ?? $0.meanFPS, max: $0.seconds?.max ?? $0.meanFPS) }
            }
        }
        let marks = Self.paperPoints.compactMap { point -> ChartMark? in
            guard let index = lossesPercent.firstIndex(of: point.lossPercent), delaysMs.contains(point.delayMs) else { return nil }
            return ChartMark(x: point.delayMs, y: point.fps, label: "paper \(BenchReport.number(point.fps)) fps",
                             colour: BenchReport.palette[index % BenchReport.palette.count])
        }
        return BenchReport.lineChartSVG(title: "FUSE video fps over delay at several packet losses (the paper's Fig. 7): \(load.title)",
                                        subtitle: subtitle(load), xTitle: "delay (ms, round trip)",
                                        yTitle: "fps per stream: mean, bar slowest–fastest second", xs: delaysMs, series: series, points: points,
                                        failed: lossesPercent.map { loss in delaysMs.map { delay in
                                            measurement(load, delayMs: delay, lossPercent: loss)?.error != nil
                                        } },
                                        failedNote: "× at the top: the cell failed",
                                        marks: marks)
    }
}
