import Foundation
import FoundationXML
import Testing
@testable import FuseLab

@Suite struct PaperReportTests {
    static let context = BenchContext(part: "test", started: Date(timeIntervalSince1970: 1_790_000_000), seconds: 12, cores: 2,
                                      memoryMiB: 24105, kernel: "6.18.0", loadBefore: 1.5, loadAfter: 2.25)

    static func measurement(_ peer: TunnelPeer, _ path: ThroughputPath, _ proto: ThroughputProtocol, _ mbit: Double, lost: Int = 0, hubCPU: Double = 0) -> ThroughputMeasurement {
        let hub = WatchedProcess(node: "master", name: "hub", pid: 10, isHub: true)
        let worker = WatchedProcess(node: "a1", name: "worker", pid: 11, isHub: false)
        return ThroughputMeasurement(peer: peer, path: path, proto: proto,
                                     report: IperfReport(sentBitsPerSecond: 3e9, receivedBitsPerSecond: mbit * 1e6, packets: proto == .udp ? 1000 : 0, lostPackets: lost),
                                     usage: [ProcessUsage(process: hub, rssBytes: 10 << 20, cpuPercent: hubCPU), ProcessUsage(process: worker, rssBytes: 5 << 20, cpuPercent: 50)])
    }

    static var throughput: ThroughputResults {
        ThroughputResults(seconds: 5, udpOffered: 3e9, measurements: [
            measurement(.openvpn, .workerToMaster, .tcp, 200),
            measurement(.fuse, .workerToMaster, .tcp, 400, hubCPU: 90),
            measurement(.fuse, .workerToMaster, .udp, 250, lost: 700),
            measurement(.nebula, .workerToWorker, .tcp, 500),
            measurement(.fuse, .workerToWorker, .tcp, 250),
        ], notes: ["Nebula": "worker → worker through the master's relay"])
    }

    static var grid: JoinGridResults {
        JoinGridResults(delaysMs: [0, 400], lossesPercent: [0, 20], runsPerCell: 2, workloads: true, joins: [
            .init(delayMs: 0, lossPercent: 0, run: 1, seconds: 2), .init(delayMs: 0, lossPercent: 0, run: 2, seconds: 4),
            .init(delayMs: 0, lossPercent: 20, run: 1, seconds: 3), .init(delayMs: 0, lossPercent: 20, run: 2, seconds: nil, error: "timed out"),
            .init(delayMs: 400, lossPercent: 0, run: 1, seconds: 5), .init(delayMs: 400, lossPercent: 0, run: 2, seconds: 7),
            .init(delayMs: 400, lossPercent: 20, run: 1, seconds: 12), .init(delayMs: 400, lossPercent: 20, run: 2, seconds: 18),
        ])
    }

    @Test func ratiosComeFirstWithThePapersAndThePeersFigures() {
        let results = PaperResults(
            footprint: BenchPart(context: Self.context, results: FootprintResults(rows: [
                FootprintRow(kind: .memory, item: "worker node total (a1)", bytes: 57 << 20, paperMiB: 228),
                FootprintRow(kind: .memory, item: "a1 agent", pid: 3, bytes: 20 << 20),
            ])),
            lifecycle: BenchPart(context: Self.context, results: [
                LifecycleRun(run: 1, masterCreate: 2, workerJoin: 1, workerLeave: 0.5, masterDestroy: 0.79, joinReported: 1, joinSteps: []),
            ]),
            joinGrid: BenchPart(context: Self.context, results: Self.grid),
            throughput: BenchPart(context: Self.context, results: Self.throughput))
        let report = PaperReport.render(results)
        let ratios = report.components(separatedBy: "## Footprint")[0]
        #expect(ratios.contains("| master create, median of 1 | 2.00 s | 374 s | 187× faster |"), "\(ratios)")
        #expect(ratios.contains("| master leave, median of 1 | 0.790 s | 7.90 s | 10.0× faster |"))
        // Smooth cells: delay < 100 ms or loss < 10 % → 2, 4, 3, 5, 7 s; median 4 s.
        #expect(ratios.contains("| worker join, delay < 100 ms or loss < 10 % (median) | 4.00 s | 60–240 s | ≥ 15.0× faster |"))
        #expect(ratios.contains("| worker join at 400 ms / 20 % (median) | 15.0 s | 360–840 s | ≥ 24.0× faster |"))
        #expect(ratios.contains("| TCP worker → master, FUSE vs the paper's FUSE | 400 Mbit/s | 108.75 Mbit/s | 3.68× |"))
        #expect(ratios.contains("| UDP worker → master, FUSE vs the paper's FUSE | 250 Mbit/s | 11.74 Mbit/s | 21.3× |"))
        #expect(ratios.contains("| TCP worker → master, FUSE / OpenVPN (same run) | 400 Mbit/s | 200 Mbit/s (OpenVPN) | 2.00× |"))
        #expect(ratios.contains("| TCP worker → worker (via hub), FUSE / Nebula (same run) | 250 Mbit/s | 500 Mbit/s (Nebula) | 0.50× |"))
        #expect(ratios.contains("| worker node total (a1) | 57.0 MiB | 228 MiB | 4.00× smaller |"))
        #expect(!ratios.contains("a1 agent"), "only whole-node figures have a paper value")
        // Every part with its context, and the video placeholder.
        #expect(report.contains("load 1.5 → 2.2") || report.contains("load 1.5 → 2.3"))
        #expect(report.contains("| 0 ms | 3.0 (2.0–4.0) | 3.0 (3.0–3.0), 1 failed |"))
        #expect(report.contains("| FUSE | worker → master | UDP | 250 | 3000 | 70.0 | 50 | 0 | 15.0 |"))
        #expect(report.contains("- Nebula: worker → worker through the master's relay"))
        #expect(report.contains(PaperReport.videoPlaceholder))
        #expect(report.contains("![join grid heat map](join-grid.svg)"))
    }

    @Test func aCellWhereEveryJoinFailedSaysSoBesideThePaper() {
        let grid = JoinGridResults(delaysMs: [0, 400], lossesPercent: [0, 20], runsPerCell: 2, workloads: false, joins: [
            .init(delayMs: 0, lossPercent: 0, run: 1, seconds: 1.5),
            .init(delayMs: 400, lossPercent: 20, run: 1, seconds: nil, error: "the tunnel carried no traffic within 60 s"),
            .init(delayMs: 400, lossPercent: 20, run: 2, seconds: nil, error: "not run: two joins of this cell failed"),
        ])
        let report = PaperReport.render(PaperResults(joinGrid: BenchPart(context: Self.context, results: grid)))
        #expect(report.contains("| worker join at 400 ms / 20 % (median) | failed (2 of 2) | 360–840 s | behind: the paper's FUSE joined |"), "\(report)")
        #expect(report.contains("| 400 ms | — | —, 2 failed |"))
    }

    @Test func missingPartsSayHowToMeasureThem() {
        let report = PaperReport.render(PaperResults())
        #expect(report.contains("No part has run yet"))
        #expect(report.contains("Not measured yet: `fuse-lab bench throughput`."))
        #expect(report.contains("Not measured yet: `fuse-lab bench join-grid`."))
        #expect(report.contains(PaperReport.videoPlaceholder))
    }

    @Test func partsRoundTripThroughTheirFiles() throws {
        let directory = NSTemporaryDirectory() + "/paper-report-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let part = BenchPart(context: Self.context, results: Self.grid)
        try benchEncoder().encode(part).write(to: URL(fileURLWithPath: directory + "/" + PaperResults.files.joinGrid))
        let loaded = try PaperResults.load(from: directory)
        #expect(loaded.joinGrid == part)
        #expect(loaded.throughput == nil && loaded.lifecycle == nil && loaded.footprint == nil)
        try Data("{".utf8).write(to: URL(fileURLWithPath: directory + "/" + PaperResults.files.throughput))
        #expect(throws: LabError.self) { try PaperResults.load(from: directory) }
    }

    @Test func joinGridSummarisesEachCell() {
        #expect(Self.grid.summaryCSV == """
            delay_ms,loss_percent,min_s,median_s,max_s,failed
            0,0,2,3,4,0
            0,20,3,3,3,1
            400,0,5,6,7,0
            400,20,12,15,18,0

            """)
        #expect(Self.grid.csv.contains("0,20,2,,timed out"))
    }

    @Test func chartsAreWellFormedSVG() throws {
        for svg in [Self.grid.heatMapSVG, Self.grid.linesSVG, Self.throughput.svg] {
            let document = try XMLDocument(data: Data(svg.utf8))
            #expect(document.rootElement()?.name == "svg")
        }
        #expect(Self.throughput.svg.contains("paper, Fig. 6: 108.75 / 11.74"))
        #expect(Self.throughput.svg.contains("OpenVPN, w→w"), "a peer without a figure shows a gap, not nothing")
        #expect(Self.grid.heatMapSVG.contains(">1 of 2 failed<"))
        #expect(BenchReport.niceCeiling(17) == 20)
        #expect(BenchReport.niceCeiling(240) == 250)
    }

    @Test func iperfReportsAreRead() throws {
        let tcp = """
            {"start":{},"end":{"sum_sent":{"bits_per_second":481000000.5,"retransmits":12},"sum_received":{"bits_per_second":479000000},
             "cpu_utilization_percent":{"host_total":35.5,"remote_total":60.25}}}
            """
        #expect(try IperfReport.decode(tcp) == IperfReport(sentBitsPerSecond: 481000000.5, receivedBitsPerSecond: 479000000, retransmits: 12,
                                                           clientCPU: 35.5, serverCPU: 60.25))
        let udp = """
            {"end":{"sum":{"bits_per_second":3000000000,"packets":4000,"lost_packets":200,"lost_percent":5},
             "sum_received":{"bits_per_second":2850000000},"cpu_utilization_percent":{"host_total":90,"remote_total":40}}}
            """
        let report = try IperfReport.decode(udp)
        #expect(report.packets == 4000 && report.lostPackets == 200 && report.lostPercent == 5)
        #expect(report.receivedBitsPerSecond == 2.85e9)
        #expect(throws: LabError.self) { try IperfReport.decode(#"{"error":"unable to connect to server"}"#) }
        #expect(throws: LabError.self) { try IperfReport.decode("not json") }
    }

    @Test func cpuTicksAreReadFromStat() {
        let stat = "4242 (wireguard-go (x)) S 1 4242 4242 0 -1 4194560 200 0 0 0 150 75 0 0 20 0 8 0 100 0 0"
        #expect(CPUSample.ticks(fromStat: stat) == 225)
        #expect(CPUSample.ticks(fromStat: "garbage") == nil)
    }
}
