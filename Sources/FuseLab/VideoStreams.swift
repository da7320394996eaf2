import Foundation

/// How many camera streams the federation carries to the dashboard at ≥ 24 fps each on a
/// clean link (`fuse-lab bench video`; the paper estimated 17): per step the streams, their
/// frame rates at the master's ingest, latency, and CPU and RSS per group of processes; then
/// the tiles one headless Chromium kept at 24 fps. Pure: what `video.json` holds, and its CSV.
public struct VideoStreamsResults: Sendable, Equatable, Codable {
    public struct Row: Sendable, Equatable, Codable {
        public var streams = 0
        public var atFullRate = 0
        public var minFPS = 0.0
        public var meanFPS = 0.0
        public var latencyMilliseconds = 0.0
        /// Group (`groups`) → % of one core over the window, and RSS in MiB.
        public var cpu: [String: Double] = [:]
        public var rssMiB: [String: Double] = [:]

        public init(streams: Int = 0, atFullRate: Int = 0, minFPS: Double = 0, meanFPS: Double = 0, latencyMilliseconds: Double = 0,
                    cpu: [String: Double] = [:], rssMiB: [String: Double] = [:]) {
            self.streams = streams
            self.atFullRate = atFullRate
            self.minFPS = minFPS
            self.meanFPS = meanFPS
            self.latencyMilliseconds = latencyMilliseconds
            self.cpu = cpu
            self.rssMiB = rssMiB
        }

        /// Every stream of the step kept 24 fps.
        public var allAtFullRate: Bool { streams > 0 && atFullRate == streams }
    }

    public struct Tiles: Sendable, Equatable, Codable {
        public let tiles: Int
        public let minFPS: Double
        public let meanFPS: Double

        public init(tiles: Int, minFPS: Double, meanFPS: Double) {
            self.tiles = tiles
            self.minFPS = minFPS
            self.meanFPS = meanFPS
        }
    }

    /// The paper's estimate (section 6): 17 streams at 24 fps under ideal circumstances.
    public static let paperStreams = 17
    public static let groups = ["master", "hub", "workers", "relays", "cameras"]

    public let rows: [Row]
    /// The largest step did not fail: there may be more (the run stopped at its --max).
    public let stoppedAtMax: Bool
    public let tiles: [Tiles]

    public init(rows: [Row], stoppedAtMax: Bool, tiles: [Tiles] = []) {
        self.rows = rows
        self.stoppedAtMax = stoppedAtMax
        self.tiles = tiles
    }

    /// The most streams of a step in which every stream kept 24 fps (0: none).
    public var carried: Int { rows.last(where: \.allAtFullRate)?.streams ?? 0 }

    /// The most tiles that one browser kept at 24 fps each (0: none, or not tried).
    public var tilesKept: Int { tiles.first { $0.minFPS >= VideoGridResults.fullRate }?.tiles ?? 0 }

    public var csv: String {
        BenchReport.csv(["streams", "at_full_rate", "min_fps", "mean_fps", "latency_ms"] + Self.groups.flatMap { ["\($0)_cpu_percent", "\($0)_rss_mib"] },
                        rows.map { row in
                            [String(row.streams), String(row.atFullRate), BenchReport.number(row.minFPS), BenchReport.number(row.meanFPS),
                             BenchReport.number(row.latencyMilliseconds)]
                                + Self.groups.flatMap { [BenchReport.number(row.cpu[$0] ?? 0), BenchReport.number(row.rssMiB[$0] ?? 0)] }
                        })
    }
}
