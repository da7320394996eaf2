import Foundation

// The pure half of `fuse-lab bench restart`: the outage a steady ping stream saw, and the CSV.

/// What was restarted (or killed) while a ping stream ran between two workers.
public enum RestartEvent: String, CaseIterable, Codable, Sendable {
    /// `fuse master stop && fuse master start` (control plane and hub).
    case masterRestart = "master-restart"
    /// SIGKILL of the hub's wireguard-go; the master's node daemon starts it again.
    case hubKill = "hub-kill"
    /// SIGKILL of a worker's node daemon, started again as its unit would (`fuse agent run`).
    case agentRestart = "agent-restart"
    /// A reboot of a worker's namespace, simulated: its FUSE processes SIGKILLed, its
    /// interface, nftables table and runtime files gone; then `fuse agent run`.
    case nodeReboot = "node-reboot"
}

public enum PingOutage {
    /// Reply times (seconds since the epoch) in the output of `ping -D -n`.
    public static func replies(in output: String) -> [Double] {
        output.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("["), line.contains(" bytes from "), let close = line.firstIndex(of: "]") else { return nil }
            return Double(line[line.index(after: line.startIndex)..<close])
        }
    }

    /// The outage an event that began at `since` caused: the longest silence between two
    /// replies that ends after `since`, from the last reply before to the first after (about
    /// the ping interval when nothing was lost). nil when no reply came after `since`.
    public static func silence(replies: [Double], since: Double) -> (from: Double, to: Double)? {
        let sorted = replies.sorted()
        guard let lastReply = sorted.last, lastReply > since else { return nil }
        var longest: (from: Double, to: Double) = (lastReply, lastReply)
        for (before, after) in zip(sorted, sorted.dropFirst()) where after > since && after - before > longest.to - longest.from {
            longest = (before, after)
        }
        return longest
    }

    /// What a ping stream saw of an event that ran from `began` to `ended`.
    public static func measure(replies: [Double], began: Double, ended: Double) -> Outage? {
        silence(replies: replies, since: began).map { Outage(seconds: $0.to - $0.from, afterEvent: max(0, $0.to - ended)) }
    }
}

public struct Outage: Codable, Sendable, Equatable {
    /// From the last reply before to the first after.
    public let seconds: Double
    /// From the end of the event (e.g. `fuse master start` returning) to the first reply after.
    public let afterEvent: Double

    public init(seconds: Double, afterEvent: Double) {
        self.seconds = seconds
        self.afterEvent = afterEvent
    }
}

/// One measured outage.
public struct RestartMeasurement: Codable, Sendable, Equatable {
    public let event: RestartEvent
    public let run: Int
    /// nil when traffic did not come back within the bench's wait.
    public let outage: Outage?

    public init(event: RestartEvent, run: Int, outage: Outage?) {
        self.event = event
        self.run = run
        self.outage = outage
    }

    public var outageSeconds: Double? { outage?.seconds }
}

public struct RestartResults: Codable, Sendable {
    /// Seconds between two pings of the stream.
    public let pingInterval: Double
    public let measurements: [RestartMeasurement]

    public init(pingInterval: Double, measurements: [RestartMeasurement]) {
        self.pingInterval = pingInterval
        self.measurements = measurements
    }

    public func spread(_ event: RestartEvent) -> Spread? {
        Spread(measurements.filter { $0.event == event }.compactMap(\.outageSeconds))
    }

    public func failures(_ event: RestartEvent) -> Int {
        measurements.filter { $0.event == event && $0.outageSeconds == nil }.count
    }

    public var csv: String {
        "event,run,outage_s,after_event_s\n" + measurements.map { measurement in
            let figures = [measurement.outage?.seconds, measurement.outage?.afterEvent].map { $0.map { String(format: "%.3f", $0) } ?? "" }
            return (["\(measurement.event.rawValue)", "\(measurement.run)"] + figures).joined(separator: ",")
        }.joined(separator: "\n") + "\n"
    }

    public var summaryCSV: String {
        "event,runs,failed,min_s,median_s,max_s\n" + RestartEvent.allCases.compactMap { event -> String? in
            let runs = measurements.filter { $0.event == event }.count
            guard runs > 0 else { return nil }
            let spread = spread(event)
            let figures = [spread?.min, spread?.median, spread?.max].map { $0.map { String(format: "%.3f", $0) } ?? "" }
            return ([event.rawValue, String(runs), String(failures(event))] + figures).joined(separator: ",")
        }.joined(separator: "\n") + "\n"
    }
}
