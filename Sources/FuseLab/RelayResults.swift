import Foundation
import FuseModel

/// One measurement of `fuse-lab bench relay`: c1 (companyC) → a1 over one path.
public struct RelayMeasurement: Sendable, Equatable, Codable {
    public let path: TunnelPath
    /// "tcp", "udp" or "ping".
    public let kind: String
    /// Delivered rate (bit/s); 0 for ping.
    public let bitsPerSecond: Double
    /// UDP: lost datagrams in %.
    public let lossPercent: Double
    /// Ping: average round-trip time (ms); 0 otherwise.
    public let rttMilliseconds: Double
    /// The master process's CPU (% of one core) during the run.
    public let masterCPU: Double

    public init(path: TunnelPath, kind: String, bitsPerSecond: Double = 0, lossPercent: Double = 0, rttMilliseconds: Double = 0, masterCPU: Double = 0) {
        self.path = path
        self.kind = kind
        self.bitsPerSecond = bitsPerSecond
        self.lossPercent = lossPercent
        self.rttMilliseconds = rttMilliseconds
        self.masterCPU = masterCPU
    }

    /// The master's CPU per relayed Mbit/s (% of one core); nil without a rate.
    public var masterCPUPerMbit: Double? { bitsPerSecond > 0 ? masterCPU / (bitsPerSecond / 1e6) : nil }
}

/// The figures of `fuse-lab bench relay`: join times from companyC, and throughput and RTT
/// through the relay beside direct UDP, in one run.
public struct RelayResults: Sendable, Equatable, Codable {
    public let seconds: Int
    public let joinSeconds: [Double]
    public let measurements: [RelayMeasurement]

    public init(seconds: Int, joinSeconds: [Double], measurements: [RelayMeasurement]) {
        self.seconds = seconds
        self.joinSeconds = joinSeconds
        self.measurements = measurements
    }

    public func measurement(_ path: TunnelPath, _ kind: String) -> RelayMeasurement? {
        measurements.first { $0.path == path && $0.kind == kind }
    }

    /// Relay TCP over direct TCP (the goal: at least 0.5).
    public var tcpRatio: Double? {
        guard let relay = measurement(.relay, "tcp"), let direct = measurement(.direct, "tcp"), direct.bitsPerSecond > 0 else { return nil }
        return relay.bitsPerSecond / direct.bitsPerSecond
    }

    public var csv: String {
        var lines = ["path,kind,mbit_per_s,loss_percent,rtt_ms,master_cpu_percent,master_cpu_percent_per_mbit"]
        for m in measurements {
            lines.append([m.path.rawValue, m.kind, String(format: "%.1f", m.bitsPerSecond / 1e6), String(format: "%.2f", m.lossPercent),
                          String(format: "%.3f", m.rttMilliseconds), String(format: "%.1f", m.masterCPU),
                          m.masterCPUPerMbit.map { String(format: "%.3f", $0) } ?? ""].joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public var joinCSV: String {
        (["run,join_seconds"] + joinSeconds.enumerated().map { "\($0.offset + 1),\(String(format: "%.3f", $0.element))" }).joined(separator: "\n") + "\n"
    }

    /// Bars per measurement kind, relay beside direct.
    public var svg: String {
        let series = [ChartSeries("relay (TLS through the master)", BenchReport.palette[1]), ChartSeries("direct (UDP)", BenchReport.palette[0])]
        let groups: [(label: String, values: [Double?])] = [
            ("TCP Mbit/s", [measurement(.relay, "tcp"), measurement(.direct, "tcp")].map { $0.map { $0.bitsPerSecond / 1e6 } }),
            ("UDP Mbit/s", [measurement(.relay, "udp"), measurement(.direct, "udp")].map { $0.map { $0.bitsPerSecond / 1e6 } }),
            ("ping RTT ms", [measurement(.relay, "ping"), measurement(.direct, "ping")].map { $0.map(\.rttMilliseconds) }),
        ]
        let joins = joinSeconds.sorted()
        let median = joins.isEmpty ? "-" : String(format: "%.2f s", joins[joins.count / 2])
        return BenchReport.barChartSVG(title: "Relay beside direct UDP: c1 (companyC, UDP blocked) → a1 through the hub",
                                       subtitle: "iperf3 \(seconds) s per run; join from companyC: median \(median) of \(joins.count); log axis",
                                       unit: "", series: series, groups: groups)
    }
}
