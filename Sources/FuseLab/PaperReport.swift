import Foundation
import FuseSystem

/// The conditions one part of `fuse-lab bench` ran under (a shared machine: say how loaded).
public struct BenchContext: Sendable, Equatable, Codable {
    public let part: String
    public let started: Date
    public let seconds: Double
    public let cores: Int
    public let memoryMiB: Int
    public let kernel: String
    /// 1-minute load average at the start and at the end.
    public let loadBefore: Double
    public let loadAfter: Double

    public init(part: String, started: Date, seconds: Double, cores: Int, memoryMiB: Int, kernel: String, loadBefore: Double, loadAfter: Double) {
        self.part = part
        self.started = started
        self.seconds = seconds
        self.cores = cores
        self.memoryMiB = memoryMiB
        self.kernel = kernel
        self.loadBefore = loadBefore
        self.loadAfter = loadAfter
    }

    public var summary: String {
        String(format: "%d cores, %d MiB, Linux %@; load %.1f → %.1f; %.0f s", cores, memoryMiB, kernel, loadBefore, loadAfter, seconds)
    }
}

/// The footprint part: RSS per process and the free-memory difference, disk of what FUSE adds.
public struct FootprintResults: Sendable, Equatable, Codable {
    public let rows: [FootprintRow]
    public init(rows: [FootprintRow]) { self.rows = rows }
}

/// What a part writes to `PART.json` (and `bench report` reads back).
public struct BenchPart<Results: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    public let context: BenchContext
    public let results: Results
    public init(context: BenchContext, results: Results) {
        self.context = context
        self.results = results
    }
}

/// Every part's latest results, as found in the output folder.
public struct PaperResults: Sendable, Equatable {
    public var footprint: BenchPart<FootprintResults>?
    public var lifecycle: BenchPart<[LifecycleRun]>?
    public var joinGrid: BenchPart<JoinGridResults>?
    public var throughput: BenchPart<ThroughputResults>?
    public var videoGrid: BenchPart<VideoGridResults>?
    public var video: BenchPart<VideoStreamsResults>?
    public init(footprint: BenchPart<FootprintResults>? = nil, lifecycle: BenchPart<[LifecycleRun]>? = nil,
                joinGrid: BenchPart<JoinGridResults>? = nil, throughput: BenchPart<ThroughputResults>? = nil,
                videoGrid: BenchPart<VideoGridResults>? = nil, video: BenchPart<VideoStreamsResults>? = nil) {
        self.footprint = footprint
        self.lifecycle = lifecycle
        self.joinGrid = joinGrid
        self.throughput = throughput
        self.videoGrid = videoGrid
        self.video = video
    }

    public static let files = (footprint: "footprint.json", lifecycle: "lifecycle.json", joinGrid: "join-grid.json", throughput: "throughput.json",
                               videoGrid: "video-grid.json", video: "video.json")

    /// Reads whichever part files exist in `directory`.
    public static func load(from directory: String) throws -> PaperResults {
        func part<T: Codable>(_ name: String, _ type: T.Type) throws -> T? {
            let path = directory + "/" + name
            guard let data = FileManager.default.contents(atPath: path) else { return nil }
            do { return try benchDecoder().decode(T.self, from: data) } catch {
                throw LabError("cannot read \(path): \(oneLine(error)); rerun that part")
            }
        }
        return PaperResults(footprint: try part(files.footprint, BenchPart<FootprintResults>.self),
                            lifecycle: try part(files.lifecycle, BenchPart<[LifecycleRun]>.self),
                            joinGrid: try part(files.joinGrid, BenchPart<JoinGridResults>.self),
                            throughput: try part(files.throughput, BenchPart<ThroughputResults>.self),
                            videoGrid: try part(files.videoGrid, BenchPart<VideoGridResults>.self),
                            video: try part(files.video, BenchPart<VideoStreamsResults>.self))
    }
}

public func benchEncoder() -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    return encoder
}

public func benchDecoder() -> JSONDecoder {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .iso8601
    return decoder
}

/// `report.md`: every figure of the paper's section 5 with ours beside it, ratios first.
public enum PaperReport {
    static func mbit(_ bits: Double) -> String { String(format: bits >= 10e6 ? "%.0f" : "%.1f", bits / 1e6) }
    static func mib(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1_048_576) }
    static func times(_ factor: Double) -> String { String(format: factor >= 100 ? "%.0f×" : factor >= 10 ? "%.1f×" : "%.2f×", factor) }
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        ([header, header.map { _ in "---" }] + rows).map { "| " + $0.joined(separator: " | ") + " |" }.joined(separator: "\n") + "\n"
    }

    public static func render(_ results: PaperResults) -> String {
        var out = "# FUSE beside the paper (CLOSER 2019, section 5)\n\n"
        out += "Written by `fuse-lab bench` from the part files in this folder; each part says when and under what load it ran. "
        out += "The machine is shared (2 cores) with other engineers' builds and labs: absolute figures are noisy, ratios within one run are what to compare.\n\n"
        out += "## Ratios first\n\n" + ratios(results) + "\n"
        out += footprint(results.footprint)
        out += lifecycle(results.lifecycle)
        out += joinGrid(results.joinGrid)
        out += throughput(results.throughput)
        out += videoGrid(results.videoGrid)
        out += videoStreams(results.video)
        return out
    }

    static func ratios(_ results: PaperResults) -> String {
        var rows: [[String]] = []
        if let lifecycle = results.lifecycle {
            for row in BenchReport.summarize(lifecycle.results) where row.metric == .masterCreate || row.metric == .masterDestroy {
                guard let paper = row.paper, let speedUp = row.speedUp else { continue }
                rows.append(["\(row.metric.title), median of \(lifecycle.results.count)", BenchReport.secondsLabel(row.ours.median),
                             BenchReport.paperNumber(paper.median ?? paper.min) + " s", speedUp.text + " faster"])
            }
        }
        if let grid = results.joinGrid?.results {
            let smooth = grid.joins.filter { ($0.delayMs < 100 || $0.lossPercent < 10) }.compactMap(\.seconds)
            if let spread = Spread(smooth) {
                rows.append(["worker join, delay < 100 ms or loss < 10 % (median)", BenchReport.secondsLabel(spread.median), "60–240 s",
                             "≥ " + times(60 / spread.median) + " faster"])
            }
            let (delay, loss) = (grid.delaysMs.max() ?? 400, grid.lossesPercent.max() ?? 20)
            let worst = grid.cell(delayMs: delay, lossPercent: loss)
            let name = "worker join at \(BenchReport.number(delay)) ms / \(BenchReport.number(loss)) % (median)"
            if let spread = worst.spread {
                rows.append([name, BenchReport.secondsLabel(spread.median), "360–840 s", "≥ " + times(360 / spread.median) + " faster"])
            } else if worst.failed > 0 {
                rows.append([name, "failed (\(worst.failed) of \(worst.failed))", "360–840 s", "behind: the paper's FUSE joined"])
            }
        }
        if let throughput = results.throughput?.results {
            for proto in ThroughputProtocol.allCases {
                if let fuse = throughput.measurement(.fuse, .workerToMaster, proto) {
                    let paper = proto == .tcp ? ThroughputResults.paperTCP : ThroughputResults.paperUDP
                    rows.append(["\(proto.rawValue.uppercased()) worker → master, FUSE vs the paper's FUSE", mbit(fuse.report.receivedBitsPerSecond) + " Mbit/s",
                                 BenchReport.number(paper) + " Mbit/s", times(fuse.report.receivedBitsPerSecond / 1e6 / paper)])
                }
            }
            for peer in [TunnelPeer.openvpn, .nebula, .wireguardGo] {
                for path in ThroughputPath.allCases {
                    for proto in ThroughputProtocol.allCases {
                        guard let ratio = throughput.ratioToFUSE(peer, path, proto), let theirs = throughput.measurement(peer, path, proto) else { continue }
                        rows.append(["\(proto.rawValue.uppercased()) \(path.title), FUSE / \(peer.label) (same run)",
                                     mbit(throughput.measurement(.fuse, path, proto)?.report.receivedBitsPerSecond ?? 0) + " Mbit/s",
                                     mbit(theirs.report.receivedBitsPerSecond) + " Mbit/s (\(peer.label))", times(ratio)])
                    }
                }
            }
        }
        rows += videoRatios(results)
        if let footprint = results.footprint?.results {
            for row in footprint.rows where row.paperMiB != nil {
                guard let paper = row.paperMiB, row.bytes > 0 else { continue }
                rows.append([row.item, mib(row.bytes) + " MiB", BenchReport.paperNumber(paper) + " MiB", times(paper / row.mebibytes) + " smaller"])
            }
        }
        if rows.isEmpty { return "No part has run yet: `fuse-lab bench paper` runs them all.\n" }
        return table(["figure", "FUSE (ours)", "paper or peer", "ratio"], rows)
    }

    static func context(_ context: BenchContext) -> String {
        "Ran \(ISO8601DateFormatter().string(from: context.started)): \(context.summary).\n\n"
    }

    static func footprint(_ part: BenchPart<FootprintResults>?) -> String {
        var out = "## Footprint (section 5.1)\n\n"
        guard let part else { return out + "Not measured yet: `fuse-lab bench footprint`.\n\n" }
        out += context(part.context)
        out += "Memory as RSS of each process after the master started and a1 joined (with workloads), and as the paper measured it: "
        out += "free memory (MemAvailable) before and after, which on a shared machine moves with everything else. "
        out += "Disk: what FUSE adds to a Debian host that runs Docker.\n\n"
        out += table(["kind", "item", "MiB", "paper MiB"], part.results.rows.map {
            [$0.kind.rawValue, $0.item, mib($0.bytes), $0.paperMiB.map(BenchReport.paperNumber) ?? ""]
        })
        return out + "\n"
    }

    static func lifecycle(_ part: BenchPart<[LifecycleRun]>?) -> String {
        var out = "## Master create and leave (Table 1)\n\n"
        guard let part else { return out + "Not measured yet: `fuse-lab bench lifecycle`.\n\n" }
        out += context(part.context)
        out += table(["metric", "min", "median", "max", "paper min / median / max", "speed-up"], BenchReport.summarize(part.results).map { row in
            [row.metric.title, BenchReport.secondsLabel(row.ours.min), BenchReport.secondsLabel(row.ours.median), BenchReport.secondsLabel(row.ours.max),
             row.paper.map { "\(BenchReport.paperNumber($0.min)) / \($0.median.map(BenchReport.paperNumber) ?? "—") / \(BenchReport.paperNumber($0.max)) s" } ?? "not in the paper",
             row.speedUp?.text ?? "—"]
        })
        return out + "\n![lifecycle](lifecycle.svg)\n\n"
    }

    static func joinGrid(_ part: BenchPart<JoinGridResults>?) -> String {
        var out = "## Worker join over delay × loss (Fig. 5)\n\n"
        guard let part else { return out + "Not measured yet: `fuse-lab bench join-grid`.\n\n" }
        let grid = part.results
        out += context(part.context)
        out += "a1 joins while companyA's WAN link is impaired (delay is round trip, loss each direction), \(grid.runsPerCell) runs a cell, "
        out += grid.workloads ? "until ready for workloads (engine in the Swarm). " : "without workloads. "
        out += "Median (min–max) in seconds. Paper: 1–4 min while delay < 100 ms or loss < 10 %; 6–14 min at 400 ms / 20 %.\n\n"
        out += table(["delay \\ loss"] + grid.lossesPercent.map { BenchReport.number($0) + " %" }, grid.delaysMs.map { delay in
            [BenchReport.number(delay) + " ms"] + grid.lossesPercent.map { loss in
                let (spread, failed) = grid.cell(delayMs: delay, lossPercent: loss)
                let text = spread.map { String(format: "%.1f (%.1f–%.1f)", $0.median, $0.min, $0.max) } ?? "—"
                return text + (failed > 0 ? ", \(failed) failed" : "")
            }
        })
        return out + "\n![join grid heat map](join-grid.svg)\n\n![join time over delay](join-lines.svg)\n\n"
    }

    static func throughput(_ part: BenchPart<ThroughputResults>?) -> String {
        var out = "## Throughput (Fig. 6) and CPU of the hub\n\n"
        guard let part else { return out + "Not measured yet: `fuse-lab bench throughput`.\n\n" }
        let results = part.results
        out += context(part.context)
        out += "iperf3, one stream, \(results.seconds) s each; UDP offered at \(BenchReport.number(results.udpOffered / 1e6)) Mbit/s (1200-byte datagrams) and reported as delivered. "
        out += "All tunnels in the same run on the same lab WAN, one after the other. CPU is % of one core over the run (user + system of the tunnel's processes; "
        out += "the kernel's own forwarding is not in it); RSS at the end of the run. Paper (FUSE on OpenVPN, master ↔ worker): TCP 108.75, UDP 11.74 Mbit/s; "
        out += "OpenVPN took 60–100 % of one core.\n\n"
        out += table(["tunnel", "path", "proto", "delivered Mbit/s", "UDP offered Mbit/s", "loss %", "tunnel CPU %", "hub CPU %", "tunnel RSS MiB"], results.measurements.map { m in
            [m.peer.label, m.path.title, m.proto.rawValue.uppercased(), mbit(m.report.receivedBitsPerSecond),
             m.proto == .udp ? mbit(m.report.sentBitsPerSecond) : "—", m.proto == .udp ? String(format: "%.1f", m.report.lostPercent) : "—", String(format: "%.0f", m.tunnelCPU),
             m.usage.contains(where: \.process.isHub) ? String(format: "%.0f", m.hubCPU) : "—", m.usage.isEmpty ? "—" : mib(m.rssBytes)]
        })
        if !results.notes.isEmpty {
            out += "\n" + results.notes.sorted { $0.key < $1.key }.map { "- \($0.key): \($0.value)" }.joined(separator: "\n") + "\n"
        }
        return out + "\n![throughput](throughput.svg)\n\n"
    }
}
