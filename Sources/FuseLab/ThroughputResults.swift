import Foundation

/// Where iperf3 sends: from a1 to the master, or from a1 to b1 through the master (the hub).
public enum ThroughputPath: String, CaseIterable, Sendable, Codable {
    case workerToMaster = "worker-master"
    case workerToWorker = "worker-worker"

    public var title: String {
        switch self {
        case .workerToMaster: "worker → master"
        case .workerToWorker: "worker → worker (via hub)"
        }
    }
}

public enum ThroughputProtocol: String, CaseIterable, Sendable, Codable {
    case tcp, udp
}

/// One iperf3 run through one tunnel, with its processes' RSS and CPU meanwhile.
public struct ThroughputMeasurement: Sendable, Equatable, Codable {
    public let peer: TunnelPeer
    public let path: ThroughputPath
    public let proto: ThroughputProtocol
    public let report: IperfReport
    public let usage: [ProcessUsage]

    public init(peer: TunnelPeer, path: ThroughputPath, proto: ThroughputProtocol, report: IperfReport, usage: [ProcessUsage]) {
        self.peer = peer
        self.path = path
        self.proto = proto
        self.report = report
        self.usage = usage
    }

    /// CPU of the hub's tunnel processes (% of one core).
    public var hubCPU: Double { usage.filter(\.process.isHub).map(\.cpuPercent).reduce(0, +) }
    /// CPU of all tunnel processes (% of one core).
    public var tunnelCPU: Double { usage.map(\.cpuPercent).reduce(0, +) }
    public var rssBytes: Int { usage.map(\.rssBytes).reduce(0, +) }
}

/// Everything `fuse-lab bench throughput` measured in one run.
public struct ThroughputResults: Sendable, Equatable, Codable {
    public let seconds: Int
    /// The UDP offered rate, bit/s.
    public let udpOffered: Double
    public let measurements: [ThroughputMeasurement]
    /// Per peer: how worker → worker traffic went, or why a peer was not measured.
    public let notes: [String: String]

    public init(seconds: Int, udpOffered: Double, measurements: [ThroughputMeasurement], notes: [String: String]) {
        self.seconds = seconds
        self.udpOffered = udpOffered
        self.measurements = measurements
        self.notes = notes
    }

    /// The paper's Fig. 6 (FUSE on OpenVPN, master ↔ worker), Mbit/s.
    public static let paperTCP = 108.75
    public static let paperUDP = 11.74

    public func measurement(_ peer: TunnelPeer, _ path: ThroughputPath, _ proto: ThroughputProtocol) -> ThroughputMeasurement? {
        measurements.first { $0.peer == peer && $0.path == path && $0.proto == proto }
    }

    /// Delivered Mbit/s of a peer over the delivered Mbit/s of FUSE (or nil).
    public func ratioToFUSE(_ peer: TunnelPeer, _ path: ThroughputPath, _ proto: ThroughputProtocol) -> Double? {
        guard let ours = measurement(.fuse, path, proto)?.report.receivedBitsPerSecond, ours > 0,
              let theirs = measurement(peer, path, proto)?.report.receivedBitsPerSecond else { return nil }
        return ours / theirs
    }

    public var csv: String {
        BenchReport.csv(["peer", "path", "proto", "offered_mbit_s", "delivered_mbit_s", "loss_percent", "retransmits", "tunnel_cpu_percent",
                         "hub_cpu_percent", "tunnel_rss_mib", "iperf_client_cpu_percent", "iperf_server_cpu_percent"],
                        measurements.map { m in
                            [m.peer.rawValue, m.path.rawValue, m.proto.rawValue, BenchReport.number(m.report.sentBitsPerSecond / 1e6),
                             BenchReport.number(m.report.receivedBitsPerSecond / 1e6), BenchReport.number(m.report.lostPercent),
                             String(m.report.retransmits), BenchReport.number(m.tunnelCPU), BenchReport.number(m.hubCPU),
                             BenchReport.number(Double(m.rssBytes) / 1_048_576), BenchReport.number(m.report.clientCPU), BenchReport.number(m.report.serverCPU)]
                        })
    }

    public var processesCSV: String {
        BenchReport.csv(["peer", "path", "proto", "node", "process", "pid", "hub", "rss_mib", "cpu_percent"], measurements.flatMap { m in
            m.usage.map { u in
                [m.peer.rawValue, m.path.rawValue, m.proto.rawValue, u.process.node, u.process.name, String(u.process.pid), u.process.isHub ? "yes" : "no",
                 BenchReport.number(Double(u.rssBytes) / 1_048_576), BenchReport.number(u.cpuPercent)]
            }
        })
    }

    /// Delivered Mbit/s per peer and path: TCP and UDP bars, the paper's beside OpenVPN's.
    public var svg: String {
        let series = [ChartSeries("TCP", BenchReport.palette[0]), ChartSeries("UDP delivered", BenchReport.palette[1])]
        var groups: [(label: String, values: [Double?])] = [("paper, Fig. 6: 108.75 / 11.74", [Self.paperTCP, Self.paperUDP])]
        for path in ThroughputPath.allCases {
            for peer in TunnelPeer.allCases {
                let values = ThroughputProtocol.allCases.map { measurement(peer, path, $0).map { $0.report.receivedBitsPerSecond / 1e6 } }
                if values.allSatisfy({ $0 == nil }), path == .workerToWorker, peer == .raw { continue }
                groups.append(("\(peer.label), \(path == .workerToMaster ? "w→m" : "w→w")", values))
            }
        }
        return BenchReport.barChartSVG(
            title: "Throughput through each tunnel, one run on one machine (iperf3, \(seconds) s)",
            subtitle: "w→m: a1 → master across the lab WAN; w→w: a1 → b1 through the master; UDP offered \(BenchReport.number(udpOffered / 1e6)) Mbit/s",
            unit: "Mbit/s", series: series, groups: groups)
    }
}
