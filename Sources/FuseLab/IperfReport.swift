import Foundation

/// What an iperf3 client's `--json` report says, reduced to the figures the benchmarks and
/// tests use. Pure: parsed from the text.
public struct IperfReport: Sendable, Equatable, Codable {
    /// Offered (sender) rate, bit/s.
    public let sentBitsPerSecond: Double
    /// Delivered (receiver) rate, bit/s; for UDP what arrived.
    public let receivedBitsPerSecond: Double
    /// UDP only (0 for TCP): datagrams sent and lost.
    public let packets: Int
    public let lostPackets: Int
    public var lostPercent: Double { packets > 0 ? Double(lostPackets) / Double(packets) * 100 : 0 }
    /// TCP only: retransmitted segments.
    public let retransmits: Int
    /// CPU use (% of one core) of the client and the server, as iperf3 measured it.
    public let clientCPU: Double
    public let serverCPU: Double

    public init(sentBitsPerSecond: Double, receivedBitsPerSecond: Double, packets: Int = 0, lostPackets: Int = 0,
                retransmits: Int = 0, clientCPU: Double = 0, serverCPU: Double = 0) {
        self.sentBitsPerSecond = sentBitsPerSecond
        self.receivedBitsPerSecond = receivedBitsPerSecond
        self.packets = packets
        self.lostPackets = lostPackets
        self.retransmits = retransmits
        self.clientCPU = clientCPU
        self.serverCPU = serverCPU
    }

    /// Reads `iperf3 -c … --json` output (TCP or UDP, iperf3 3.9 and later).
    public static func decode(_ text: String) throws -> IperfReport {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw LabError("cannot read iperf3's JSON: \(text.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200))")
        }
        if let error = object["error"] as? String { throw LabError("iperf3: \(error)") }
        guard let end = object["end"] as? [String: Any] else { throw LabError("iperf3's JSON has no 'end' section") }
        func section(_ name: String) -> [String: Any]? { end[name] as? [String: Any] }
        func double(_ dictionary: [String: Any]?, _ key: String) -> Double? { (dictionary?[key] as? NSNumber)?.doubleValue }
        func int(_ dictionary: [String: Any]?, _ key: String) -> Int? { (dictionary?[key] as? NSNumber)?.intValue }
        let cpu = section("cpu_utilization_percent")
        if let udp = section("sum"), int(udp, "lost_packets") != nil {
            // UDP: "sum" has the server's loss count; the delivered rate is what "sum_received"
            // says where iperf3 gives it, else the offered rate less the loss.
            let packets = int(udp, "packets") ?? 0, lost = int(udp, "lost_packets") ?? 0
            let sent = double(section("sum_sent"), "bits_per_second") ?? double(udp, "bits_per_second") ?? 0
            let received = double(section("sum_received"), "bits_per_second")
                ?? (packets > 0 ? sent * Double(packets - lost) / Double(packets) : 0)
            return IperfReport(sentBitsPerSecond: sent, receivedBitsPerSecond: received, packets: packets, lostPackets: lost,
                               clientCPU: double(cpu, "host_total") ?? 0, serverCPU: double(cpu, "remote_total") ?? 0)
        }
        guard let sent = double(section("sum_sent"), "bits_per_second"), let received = double(section("sum_received"), "bits_per_second") else {
            throw LabError("iperf3's JSON has no sum_sent/sum_received rates")
        }
        return IperfReport(sentBitsPerSecond: sent, receivedBitsPerSecond: received, retransmits: int(section("sum_sent"), "retransmits") ?? 0,
                           clientCPU: double(cpu, "host_total") ?? 0, serverCPU: double(cpu, "remote_total") ?? 0)
    }
}
