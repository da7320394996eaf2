import Foundation

// The pure half of `fuse-lab bench lifecycle`: statistics, the paper's figures, CSV and SVG text.
// Nothing here touches the host, so all of it is tested exactly.

/// Minimum, median and maximum of a sample.
public struct Spread: Sendable, Equatable, Codable {
    public let min: Double
    public let median: Double
    public let max: Double

    public init(min: Double, median: Double, max: Double) {
        self.min = min
        self.median = median
        self.max = max
    }

    /// nil for an empty sample; the median of an even sample is the mean of the middle two.
    public init?(_ values: [Double]) {
        let sorted = values.sorted()
        guard let first = sorted.first, let last = sorted.last else { return nil }
        let middle = sorted.count / 2
        self.init(min: first, median: sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2, max: last)
    }
}

/// A figure from the paper: min and max, and the median where the paper gives one
/// (Fig. 5 only shows a range for the worker join).
public struct PaperSpread: Sendable, Equatable, Codable {
    public let min: Double
    public let median: Double?
    public let max: Double

    public init(min: Double, median: Double?, max: Double) {
        self.min = min
        self.median = median
        self.max = max
    }
}

/// The four lifecycle operations the paper times (CLOSER 2019, Table 1 and Fig. 5).
public enum LifecycleMetric: String, CaseIterable, Sendable, Codable {
    case masterCreate = "master_create"
    case workerJoin = "worker_join"
    case workerLeave = "worker_leave"
    case masterDestroy = "master_destroy"
    /// `fuse deploy` until the task runs on a node of another domain (image pulled there).
    case deployRemote = "deploy_remote"

    public var title: String {
        switch self {
        case .masterCreate: "master create"
        case .workerJoin: "worker join"
        case .workerLeave: "worker leave"
        case .masterDestroy: "master leave"
        case .deployRemote: "deploy to another domain"
        }
    }

    /// Table 1 (master create and leave, 10 runs) and Fig. 5 (worker join "1 to 4 minutes"
    /// with less than 100 ms delay or 10 % loss; no median given). The paper does not time a
    /// worker's leave.
    public var paper: PaperSpread? {
        switch self {
        case .masterCreate: PaperSpread(min: 356, median: 374, max: 381)
        case .workerJoin: PaperSpread(min: 60, median: nil, max: 240)
        case .workerLeave, .deployRemote: nil
        case .masterDestroy: PaperSpread(min: 7.87, median: 7.90, max: 8.90)
        }
    }
}

/// The paper's footprint figures (section 5.1), per node.
public enum PaperFootprint {
    public static let masterMemoryMiB = 851.0
    public static let workerMemoryMiB = 228.0
    public static let masterDiskMiB = 1576.0
    public static let workerDiskMiB = 529.0
}

/// One step of `fuse join --json`.
public struct JoinStep: Sendable, Equatable, Codable {
    public let step: String
    public let seconds: Double

    public init(step: String, seconds: Double) {
        self.step = step
        self.seconds = seconds
    }
}

/// What `fuse join --json` prints.
public struct JoinReport: Sendable, Equatable, Codable {
    public let name: String
    public let domain: String
    public let address: String
    public let interface: String
    public let seconds: Double
    public let steps: [JoinStep]

    /// The VPN address without its prefix length.
    public var host: String { String(address.split(separator: "/").first ?? "") }

    public static func decode(_ output: String) throws -> JoinReport {
        do {
            return try JSONDecoder().decode(JoinReport.self, from: Data(output.utf8))
        } catch {
            throw LabError("cannot read 'fuse join --json' output: \(output.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200))")
        }
    }
}

/// One run of the lifecycle benchmark: wall times in seconds as the user sees them.
public struct LifecycleRun: Sendable, Equatable, Codable {
    public let run: Int
    public let masterCreate: Double
    public let workerJoin: Double
    public let workerLeave: Double
    public let masterDestroy: Double
    /// The `seconds` that `fuse join --json` reported itself, and its steps.
    public let joinReported: Double
    public let joinSteps: [JoinStep]
    public let deployRemote: Double?

    public init(run: Int, masterCreate: Double, workerJoin: Double, workerLeave: Double, masterDestroy: Double,
                joinReported: Double, joinSteps: [JoinStep], deployRemote: Double? = nil) {
        self.deployRemote = deployRemote
        self.run = run
        self.masterCreate = masterCreate
        self.workerJoin = workerJoin
        self.workerLeave = workerLeave
        self.masterDestroy = masterDestroy
        self.joinReported = joinReported
        self.joinSteps = joinSteps
    }

    public func value(_ metric: LifecycleMetric) -> Double? {
        switch metric {
        case .masterCreate: masterCreate
        case .workerJoin: workerJoin
        case .workerLeave: workerLeave
        case .masterDestroy: masterDestroy
        case .deployRemote: deployRemote
        }
    }
}

/// How much faster we are than the paper: its median over ours, or, where the paper gives no
/// median, its minimum over ours (so a lower bound).
public struct SpeedUp: Sendable, Equatable, Codable {
    public let factor: Double
    public let isLowerBound: Bool

    public var text: String {
        (isLowerBound ? "≥ " : "") + String(format: factor >= 100 ? "%.0f×" : "%.1f×", factor)
    }
}

/// One line of the summary: ours beside the paper's.
public struct LifecycleSummaryRow: Sendable, Equatable, Codable {
    public let metric: LifecycleMetric
    public let ours: Spread
    public let paper: PaperSpread?

    public init(metric: LifecycleMetric, ours: Spread, paper: PaperSpread?) {
        self.metric = metric
        self.ours = ours
        self.paper = paper
    }

    public var speedUp: SpeedUp? {
        guard let paper, ours.median > 0 else { return nil }
        if let median = paper.median { return SpeedUp(factor: median / ours.median, isLowerBound: false) }
        return SpeedUp(factor: paper.min / ours.median, isLowerBound: true)
    }
}

/// A memory or disk figure of the footprint.
public struct FootprintRow: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable { case memory, disk }
    public let kind: Kind
    public let item: String
    public let pid: Int32?
    public let bytes: Int
    /// The paper's figure for the same thing (whole-node totals only).
    public let paperMiB: Double?

    public init(kind: Kind, item: String, pid: Int32? = nil, bytes: Int, paperMiB: Double? = nil) {
        self.kind = kind
        self.item = item
        self.pid = pid
        self.bytes = bytes
        self.paperMiB = paperMiB
    }

    public var mebibytes: Double { Double(bytes) / 1_048_576 }
}

public enum BenchReport {
    /// The summary rows of these runs, in `LifecycleMetric` order (empty without runs).
    public static func summarize(_ runs: [LifecycleRun]) -> [LifecycleSummaryRow] {
        LifecycleMetric.allCases.compactMap { metric in
            Spread(runs.compactMap { $0.value(metric) }).map { LifecycleSummaryRow(metric: metric, ours: $0, paper: metric.paper) }
        }
    }

    /// A join step's name without its run-specific details in parentheses
    /// ("agent running (pid 20286)" → "agent running"), so that runs can be compared.
    public static func stepKey(_ step: String) -> String {
        var key = "", depth = 0
        for character in step {
            if character == "(" { depth += 1 } else if character == ")", depth > 0 { depth -= 1 } else if depth == 0 { key.append(character) }
        }
        return key.split(separator: " ").joined(separator: " ")
    }

    /// Median seconds per join step (by `stepKey`) over the runs, in the order the steps first appear.
    public static func joinStepMedians(_ runs: [LifecycleRun]) -> [(step: String, median: Double)] {
        var order: [String] = []
        var values: [String: [Double]] = [:]
        for step in runs.flatMap(\.joinSteps) {
            let key = stepKey(step.step)
            if values[key] == nil { order.append(key) }
            values[key, default: []].append(step.seconds)
        }
        return order.compactMap { step in Spread(values[step] ?? []).map { (step, $0.median) } }
    }

    /// `VmRSS` of a `/proc/PID/status` text, in KiB.
    public static func vmRSSKiB(fromStatus text: String) -> Int? {
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("VmRSS:") {
            let fields = line.dropFirst("VmRSS:".count).split(whereSeparator: \.isWhitespace)
            guard let value = fields.first.flatMap({ Int($0) }) else { return nil }
            return fields.count > 1 && fields[1].lowercased() != "kb" ? nil : value
        }
        return nil
    }

    // MARK: - CSV

    /// A number for CSV: up to 6 decimals, no trailing zeros ("356", "7.87", "0.012345").
    public static func number(_ value: Double) -> String {
        var text = String(format: "%.6f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    /// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
    public static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func csv(_ header: [String], _ rows: [[String]]) -> String {
        ([header] + rows).map { $0.map(field).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    public static func lifecycleCSV(_ runs: [LifecycleRun]) -> String {
        csv(["run", "master_create_s", "worker_join_s", "worker_leave_s", "master_destroy_s", "join_reported_s", "deploy_remote_s"],
            runs.map { [String($0.run), number($0.masterCreate), number($0.workerJoin), number($0.workerLeave),
                        number($0.masterDestroy), number($0.joinReported), $0.deployRemote.map(number) ?? ""] })
    }

    public static func joinStepsCSV(_ runs: [LifecycleRun]) -> String {
        csv(["run", "step", "seconds"], runs.flatMap { run in run.joinSteps.map { [String(run.run), $0.step, number($0.seconds)] } })
    }

    public static func summaryCSV(_ rows: [LifecycleSummaryRow]) -> String {
        csv(["metric", "min", "median", "max", "paper_min", "paper_median", "paper_max"],
            rows.map { row in
                [row.metric.rawValue, number(row.ours.min), number(row.ours.median), number(row.ours.max),
                 row.paper.map { number($0.min) } ?? "", row.paper?.median.map(number) ?? "", row.paper.map { number($0.max) } ?? ""]
            })
    }

    public static func memoryCSV(_ rows: [FootprintRow]) -> String {
        csv(["kind", "item", "pid", "bytes", "mib", "paper_mib"],
            rows.map { [$0.kind.rawValue, $0.item, $0.pid.map(String.init) ?? "", String($0.bytes), number($0.mebibytes),
                        $0.paperMiB.map(number) ?? ""] })
    }

    // MARK: - SVG

    /// Decades [lo, hi] (powers of ten) that hold every positive value; (1, 10) without any.
    public static func logDomain(_ values: [Double]) -> (lo: Double, hi: Double) {
        let positive = values.filter { $0 > 0 && $0.isFinite }
        guard let smallest = positive.min(), let largest = positive.max() else { return (1, 10) }
        let lo = (log10(smallest)).rounded(.down)
        var hi = (log10(largest)).rounded(.up)
        if hi <= lo { hi = lo + 1 }
        return (pow(10, lo), pow(10, hi))
    }

    /// Position of `value` on a log axis from `lo` (at 0) to `hi` (at `width`), clamped to it.
    public static func logPosition(_ value: Double, lo: Double, hi: Double, width: Double) -> Double {
        guard value > 0, lo > 0, hi > lo else { return 0 }
        let fraction = (log10(value) - log10(lo)) / (log10(hi) - log10(lo))
        return Swift.min(Swift.max(fraction, 0), 1) * width
    }

    /// A paper figure as the paper prints it: whole seconds or two decimals ("374", "7.90").
    public static func paperNumber(_ value: Double) -> String {
        value == value.rounded() ? String(format: "%.0f", value) : String(format: "%.2f", value)
    }

    /// A decade of the axis: "0.01 s", "1 s", "100 s".
    public static func decadeLabel(_ value: Double) -> String { number(value) + " s" }

    /// "0.5 s", "12.3 s", "374 s": three significant digits.
    public static func secondsLabel(_ value: Double) -> String {
        let text: String
        switch value {
        case ..<0.01: text = String(format: "%.4f", value)
        case ..<1: text = String(format: "%.3f", value)
        case ..<10: text = String(format: "%.2f", value)
        case ..<100: text = String(format: "%.1f", value)
        default: text = String(format: "%.0f", value)
        }
        return text + " s"
    }

    static func escapeXML(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// A horizontal range chart on a log time axis: per metric a bar from min to max with a
    /// tick at the median, ours above the paper's (the paper's worker join has no median).
    public static func lifecycleSVG(_ rows: [LifecycleSummaryRow], runs: Int) -> String {
        let width = 900.0, left = 215.0, right = 110.0, top = 64.0, group = 64.0, bar = 18.0
        let plotWidth = width - left - right
        let height = top + group * Double(rows.count) + 44
        let all = rows.flatMap { [$0.ours.min, $0.ours.max] + ($0.paper.map { [$0.min, $0.max] } ?? []) }
        let (lo, hi) = logDomain(all)
        func x(_ value: Double) -> Double { left + logPosition(value, lo: lo, hi: hi, width: plotWidth) }
        func f(_ value: Double) -> String { String(format: "%.1f", value) }
        let ours = "#2b6cb0", paper = "#c05621", grid = "#cccccc"

        var svg: [String] = []
        svg.append(#"<svg xmlns="http://www.w3.org/2000/svg" width="\#(f(width))" height="\#(f(height))" viewBox="0 0 \#(f(width)) \#(f(height))" font-family="sans-serif" font-size="12">"#)
        svg.append(#"<rect x="0" y="0" width="\#(f(width))" height="\#(f(height))" fill="white"/>"#)
        svg.append(#"<text x="\#(f(width / 2))" y="20" text-anchor="middle" font-size="14" font-weight="bold">\#(escapeXML("FUSE lifecycle times: ours (\(runs) runs) beside the paper (CLOSER 2019, Table 1, Fig. 5)"))</text>"#)
        svg.append(#"<rect x="\#(f(left))" y="32" width="12" height="10" fill="\#(ours)"/><text x="\#(f(left + 16))" y="41">ours: min–max, tick at median</text>"#)
        svg.append(#"<rect x="\#(f(left + 230))" y="32" width="12" height="10" fill="\#(paper)"/><text x="\#(f(left + 246))" y="41">paper: min–max, tick at median</text>"#)

        // Decade grid lines with labels below the plot.
        let axisY = top + group * Double(rows.count)
        for exponent in Int(log10(lo).rounded())...Int(log10(hi).rounded()) {
            let decade = pow(10, Double(exponent))
            let position = x(decade)
            svg.append(#"<line x1="\#(f(position))" y1="\#(f(top - 6))" x2="\#(f(position))" y2="\#(f(axisY))" stroke="\#(grid)"/>"#)
            svg.append(#"<text x="\#(f(position))" y="\#(f(axisY + 16))" text-anchor="middle">\#(escapeXML(decadeLabel(decade)))</text>"#)
        }
        svg.append(#"<text x="\#(f(left + plotWidth / 2))" y="\#(f(axisY + 34))" text-anchor="middle">seconds (log scale)</text>"#)

        func range(_ y: Double, _ min: Double, _ median: Double?, _ max: Double, _ colour: String, _ label: String) {
            let x0 = x(min), x1 = Swift.max(x(max), x0 + 2)
            svg.append(#"<rect x="\#(f(x0))" y="\#(f(y))" width="\#(f(x1 - x0))" height="\#(f(bar))" fill="\#(colour)" fill-opacity="0.35" stroke="\#(colour)"/>"#)
            if let median {
                let xm = x(median)
                svg.append(#"<line x1="\#(f(xm))" y1="\#(f(y - 2))" x2="\#(f(xm))" y2="\#(f(y + bar + 2))" stroke="\#(colour)" stroke-width="3"/>"#)
            }
            svg.append(#"<text x="\#(f(x1 + 6))" y="\#(f(y + bar - 5))" fill="\#(colour)">\#(escapeXML(label))</text>"#)
        }
        for (index, row) in rows.enumerated() {
            let y = top + group * Double(index)
            svg.append(#"<text x="\#(f(left - 10))" y="\#(f(y + bar + 6))" text-anchor="end" font-weight="bold">\#(escapeXML(row.metric.title))</text>"#)
            range(y, row.ours.min, row.ours.median, row.ours.max, ours, secondsLabel(row.ours.median))
            if let p = row.paper {
                range(y + bar + 6, p.min, p.median, p.max, paper, p.median.map(secondsLabel) ?? "\(paperNumber(p.min))–\(paperNumber(p.max)) s, no median")
            } else {
                svg.append(#"<text x="\#(f(left + 4))" y="\#(f(y + 2 * bar + 1))" fill="\#(paper)" font-style="italic">not in the paper</text>"#)
            }
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }
}
