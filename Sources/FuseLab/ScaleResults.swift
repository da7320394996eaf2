import Foundation

/// What `fuse-lab bench scale` measured at one federation size.
public struct ScaleStep: Sendable, Equatable, Codable {
    /// Connected simulated nodes (the master not counted).
    public let nodes: Int
    /// Joins of this step (from the previous size to this one) per second, and their latency.
    public let joinRate: Double
    public let joinP50: Double
    public let joinP99: Double
    /// A few field devices' joins one at a time (nothing else joining): p50 and the slowest.
    public let joinAloneP50: Double
    public let joinAloneMax: Double
    /// The same, with the simulated nodes' heartbeats held (the master and the simulating
    /// client share 2 cores; this is the join's own work, without the federation's steady load).
    public let joinQuietP50: Double?
    /// Each change and how long it took to reach the nodes whose map it changes.
    public let changes: [ScaleChange]
    /// One more node's join, until the hub's WireGuard has its peer; a leave, until it has not.
    public let hubAddPeerSeconds: Double?
    public let hubRemovePeerSeconds: Double?
    public let masterRSSBytes: Int
    /// The master's CPU while the nodes joined, and while they only heartbeat and long-poll.
    public let masterCPUJoinPercent: Double
    public let masterCPUIdlePercent: Double
    public let masterOpenFiles: Int
    public let databaseBytes: Int
    /// 1-minute load average when the step ended (the simulating client shares the cores).
    public let load: Double

    public init(nodes: Int, joinRate: Double, joinP50: Double, joinP99: Double, joinAloneP50: Double, joinAloneMax: Double, joinQuietP50: Double? = nil,
                changes: [ScaleChange], hubAddPeerSeconds: Double?, hubRemovePeerSeconds: Double?, masterRSSBytes: Int, masterCPUJoinPercent: Double, masterCPUIdlePercent: Double,
                masterOpenFiles: Int, databaseBytes: Int, load: Double) {
        self.nodes = nodes
        self.joinRate = joinRate
        self.joinP50 = joinP50
        self.joinP99 = joinP99
        self.joinAloneP50 = joinAloneP50
        self.joinAloneMax = joinAloneMax
        self.joinQuietP50 = joinQuietP50
        self.changes = changes
        self.hubAddPeerSeconds = hubAddPeerSeconds
        self.hubRemovePeerSeconds = hubRemovePeerSeconds
        self.masterRSSBytes = masterRSSBytes
        self.masterCPUJoinPercent = masterCPUJoinPercent
        self.masterCPUIdlePercent = masterCPUIdlePercent
        self.masterOpenFiles = masterOpenFiles
        self.databaseBytes = databaseBytes
        self.load = load
    }

    public func change(_ kind: ScaleChange.Kind) -> ScaleChange? { changes.first { $0.kind == kind } }
}

/// One change and its propagation: seconds from the request to each node's long-poll answer
/// that carries it.
public struct ScaleChange: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case policy, exposure, leave
    }

    public let kind: Kind
    /// Nodes whose map the change touches (the ones that must get it).
    public let expected: Int
    /// Of them, the ones that got it within the deadline.
    public let reached: Int
    public let p50: Double?
    public let p99: Double?
    public let max: Double?

    public init(kind: Kind, seconds: [Double], expected: Int) {
        self.kind = kind
        self.expected = expected
        reached = seconds.count
        p50 = ScaleResults.percentile(seconds, 50)
        p99 = ScaleResults.percentile(seconds, 99)
        max = seconds.max()
    }
}

/// CSV, the plot and the table of `fuse-lab bench scale`.
public enum ScaleResults {
    /// The nearest-rank percentile (nil for no values).
    public static func percentile(_ values: [Double], _ percent: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = Int((percent / 100 * Double(sorted.count)).rounded(.up))
        return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank - 1))]
    }

    public static func csv(_ steps: [ScaleStep]) -> String {
        let kinds = ScaleChange.Kind.allCases
        let header = ["nodes", "join_rate_per_s", "join_p50_s", "join_p99_s", "join_alone_p50_s", "join_alone_max_s", "join_quiet_p50_s"]
            + kinds.flatMap { ["\($0.rawValue)_expected", "\($0.rawValue)_reached", "\($0.rawValue)_p50_s", "\($0.rawValue)_p99_s", "\($0.rawValue)_max_s"] }
            + ["hub_add_peer_s", "hub_remove_peer_s", "master_rss_mib", "master_cpu_join_pct", "master_cpu_idle_pct", "master_open_files", "db_kib", "load"]
        let rows = steps.map { step in
            [String(step.nodes), BenchReport.number(step.joinRate), BenchReport.number(step.joinP50), BenchReport.number(step.joinP99),
             BenchReport.number(step.joinAloneP50), BenchReport.number(step.joinAloneMax), step.joinQuietP50.map(BenchReport.number) ?? ""]
                + kinds.flatMap { kind -> [String] in
                    guard let change = step.change(kind) else { return ["", "", "", "", ""] }
                    return [String(change.expected), String(change.reached), change.p50.map(BenchReport.number) ?? "",
                            change.p99.map(BenchReport.number) ?? "", change.max.map(BenchReport.number) ?? ""]
                }
                + [step.hubAddPeerSeconds.map(BenchReport.number) ?? "", step.hubRemovePeerSeconds.map(BenchReport.number) ?? "",
                   BenchReport.number(Double(step.masterRSSBytes) / 1_048_576), BenchReport.number(step.masterCPUJoinPercent),
                   BenchReport.number(step.masterCPUIdlePercent), String(step.masterOpenFiles), String(step.databaseBytes / 1024),
                   BenchReport.number(step.load)]
        }
        return BenchReport.csv(header, rows)
    }

    /// Propagation (p50 as the point, the bar up to p99) of each change kind against the
    /// number of nodes.
    public static func propagationSVG(_ steps: [ScaleStep], subtitle: String) -> String {
        let kinds = ScaleChange.Kind.allCases
        let series = kinds.enumerated().map { ChartSeries("\($0.element.rawValue) (p50, bar to p99)", BenchReport.palette[$0.offset]) }
        let points = kinds.map { kind in
            steps.map { step -> (median: Double, min: Double, max: Double)? in
                guard let change = step.change(kind), let p50 = change.p50, let p99 = change.p99 else { return nil }
                return (p50, p50, p99)
            }
        }
        let failed = kinds.map { kind in steps.map { ($0.change(kind)?.reached ?? 0) < ($0.change(kind)?.expected ?? 0) } }
        return BenchReport.lineChartSVG(title: "A change reaching every node it touches, by federation size", subtitle: subtitle,
                                        xTitle: "connected simulated nodes", yTitle: "seconds from the request", xs: steps.map { Double($0.nodes) },
                                        series: series, points: points, failed: failed, failedNote: "× at the top: some nodes did not get it in time",
                                        goal: (y: 2, label: "goal: p99 ≤ 2 s at 2,000 nodes (issue 14)"))
    }

    /// The table a person reads.
    public static func table(_ steps: [ScaleStep]) -> (header: [String], rows: [[String]]) {
        func seconds(_ change: ScaleChange?) -> String {
            guard let change, let p50 = change.p50, let p99 = change.p99 else { return "–" }
            return String(format: "%.2f / %.2f s (%d/%d)", p50, p99, change.reached, change.expected)
        }
        let header = ["nodes", "joins/s", "join p50/p99", "join alone p50/max (quiet)", "policy p50/p99 (reached)", "exposure", "leave", "hub +peer / −peer",
                      "master RSS", "CPU join / idle", "DB", "load"]
        let rows = steps.map { step in
            [String(step.nodes), String(format: "%.0f", step.joinRate), String(format: "%.2f / %.2f s", step.joinP50, step.joinP99),
             String(format: "%.3f / %.3f s", step.joinAloneP50, step.joinAloneMax) + (step.joinQuietP50.map { String(format: " (%.3f s)", $0) } ?? ""),
             seconds(step.change(.policy)), seconds(step.change(.exposure)), seconds(step.change(.leave)),
             String(format: "%@ / %@", step.hubAddPeerSeconds.map { String(format: "%.3f s", $0) } ?? "–",
                    step.hubRemovePeerSeconds.map { String(format: "%.3f s", $0) } ?? "–"),
             String(format: "%.0f MiB", Double(step.masterRSSBytes) / 1_048_576),
             String(format: "%.0f %% / %.0f %%", step.masterCPUJoinPercent, step.masterCPUIdlePercent),
             String(format: "%.1f MiB", Double(step.databaseBytes) / 1_048_576), String(format: "%.1f", step.load)]
        }
        return (header, rows)
    }
}
