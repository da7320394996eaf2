import Foundation

/// The worker join over a delay × loss grid (the paper's Fig. 5): per cell several joins of a1
/// while companyA's WAN link is impaired. Pure: results, summary, CSV and plots.
public struct JoinGridResults: Sendable, Equatable, Codable {
    public struct Join: Sendable, Equatable, Codable {
        public let delayMs: Double
        public let lossPercent: Double
        public let run: Int
        /// Wall time of `fuse join` until the node is ready; nil when it failed.
        public let seconds: Double?
        public let error: String?

        public init(delayMs: Double, lossPercent: Double, run: Int, seconds: Double?, error: String? = nil) {
            self.delayMs = delayMs
            self.lossPercent = lossPercent
            self.run = run
            self.seconds = seconds
            self.error = error
        }
    }

    public let delaysMs: [Double]
    public let lossesPercent: [Double]
    public let runsPerCell: Int
    /// Whether the joining node ran workloads (its own engine, joined to the Swarm).
    public let workloads: Bool
    public let joins: [Join]

    public init(delaysMs: [Double], lossesPercent: [Double], runsPerCell: Int, workloads: Bool, joins: [Join]) {
        self.delaysMs = delaysMs
        self.lossesPercent = lossesPercent
        self.runsPerCell = runsPerCell
        self.workloads = workloads
        self.joins = joins
    }

    /// The paper's grid: delay 0–400 ms in 100 ms steps × loss 0–20 % in 5 % steps.
    public static let paperDelaysMs: [Double] = [0, 100, 200, 300, 400]
    public static let paperLossesPercent: [Double] = [0, 5, 10, 15, 20]
    /// `--quick`: the corners and the middle.
    public static let quickDelaysMs: [Double] = [0, 200, 400]
    public static let quickLossesPercent: [Double] = [0, 10, 20]

    /// What the paper says of Fig. 5: 1–4 minutes while delay < 100 ms or loss < 10 %,
    /// 6–14 minutes at 400 ms and 20 %.
    public static let paperSmooth = PaperSpread(min: 60, median: nil, max: 240)
    public static let paperWorst = PaperSpread(min: 360, median: nil, max: 840)

    /// min / median / max of the successful joins of a cell, and how many failed.
    public func cell(delayMs: Double, lossPercent: Double) -> (spread: Spread?, failed: Int) {
        let cell = joins.filter { $0.delayMs == delayMs && $0.lossPercent == lossPercent }
        return (Spread(cell.compactMap(\.seconds)), cell.filter { $0.seconds == nil }.count)
    }

    public var csv: String {
        BenchReport.csv(["delay_ms", "loss_percent", "run", "join_s", "error"], joins.map {
            [BenchReport.number($0.delayMs), BenchReport.number($0.lossPercent), String($0.run), $0.seconds.map(BenchReport.number) ?? "", $0.error ?? ""]
        })
    }

    public var summaryCSV: String {
        var rows: [[String]] = []
        for delay in delaysMs {
            for loss in lossesPercent {
                let (spread, failed) = cell(delayMs: delay, lossPercent: loss)
                rows.append([BenchReport.number(delay), BenchReport.number(loss), spread.map { BenchReport.number($0.min) } ?? "",
                             spread.map { BenchReport.number($0.median) } ?? "", spread.map { BenchReport.number($0.max) } ?? "", String(failed)])
            }
        }
        return BenchReport.csv(["delay_ms", "loss_percent", "min_s", "median_s", "max_s", "failed"], rows)
    }

    var subtitle: String {
        "a1 joins across companyA's impaired WAN link, \(runsPerCell) runs a cell\(workloads ? " (until ready for workloads)" : " (no workloads)"); paper: 60–240 s smooth, 360–840 s at 400 ms / 20 %"
    }

    /// Heat map: delay down, loss across; median in bold, min–max below.
    public var heatMapSVG: String {
        let values = delaysMs.map { delay in lossesPercent.map { cell(delayMs: delay, lossPercent: $0).spread?.median } }
        let labels = delaysMs.map { delay in
            lossesPercent.map { loss -> String in
                let (spread, failed) = cell(delayMs: delay, lossPercent: loss)
                guard let spread else { return failed > 0 ? "\(failed) of \(failed) failed" : "—" }
                return BenchReport.secondsLabel(spread.median) + "\n" + String(format: "%.1f–%.1f", spread.min, spread.max)
                    + (failed > 0 ? "\n\(failed) of \(failed + joins.filter { $0.delayMs == delay && $0.lossPercent == loss && $0.seconds != nil }.count) failed" : "")
            }
        }
        return BenchReport.heatMapSVG(title: "FUSE worker join time (median; min–max) over delay × loss", subtitle: subtitle,
                                      rowTitle: "delay (ms, round trip)", columnTitle: "packet loss (each direction)",
                                      rows: delaysMs.map { BenchReport.number($0) + " ms" }, columns: lossesPercent.map { BenchReport.number($0) + " %" },
                                      values: values, labels: labels)
    }

    /// The paper's Fig. 5: join time over delay, one line per loss.
    public var linesSVG: String {
        let series = lossesPercent.enumerated().map { ChartSeries(BenchReport.number($0.element) + " % loss", BenchReport.palette[$0.offset % BenchReport.palette.count]) }
        let points = lossesPercent.map { loss in
            delaysMs.map { delay in cell(delayMs: delay, lossPercent: loss).spread.map { (median: $0.median, min: $0.min, max: $0.max) } }
        }
        return BenchReport.lineChartSVG(title: "FUSE worker join time over delay at several packet losses (the paper's Fig. 5)", subtitle: subtitle,
                                        xTitle: "delay (ms, round trip)", yTitle: "join time (s): median, bar min–max", xs: delaysMs,
                                        series: series, points: points,
                                        failed: lossesPercent.map { loss in delaysMs.map { delay in
                                            let cell = cell(delayMs: delay, lossPercent: loss)
                                            return cell.spread == nil && cell.failed > 0
                                        } },
                                        failedNote: "× at the top: every join of that cell failed")
    }
}
