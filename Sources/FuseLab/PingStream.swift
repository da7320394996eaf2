import Foundation
import FuseSystem

/// A steady `ping -D` stream between two lab nodes, one per measurement.
public struct PingStream {
    let lab: Lab
    let from: String
    let to: String
    let interval: Double
    let recoveryLimit: Duration

    public init(lab: Lab, from: String, to: String, interval: Double = 0.05, recoveryLimit: Duration = .seconds(60)) {
        self.lab = lab
        self.from = from
        self.to = to
        self.interval = interval
        self.recoveryLimit = recoveryLimit
    }

    /// Runs `event` while the stream flows; the outage it caused, or nil when traffic did not
    /// come back within the limit.
    public func measure(_ event: () throws -> Void) throws -> Outage? {
        let log = lab.topology.runDirectory + "/ping-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let pid = try Daemon.spawn(try lab.execArguments(from, ["ping", "-D", "-n", "-i", String(interval), "-W", "1", to]), logFile: log)
        defer { Daemon.stop(pid) }
        func replies() -> [Double] { PingOutage.replies(in: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "") }
        guard pollUntil(.seconds(10), { replies().count >= 10 }) else { throw LabError("no steady ping from \(from) to \(to) before the event") }
        let began = Date().timeIntervalSince1970
        try event()
        let ended = Date().timeIntervalSince1970
        // Back when half a second of steady replies followed the event.
        let steady = Int(0.5 / interval)
        guard pollUntil(recoveryLimit, every: .milliseconds(100), { replies().filter { $0 > ended }.count >= steady }) else { return nil }
        return PingOutage.measure(replies: replies(), began: began, ended: ended)
    }
}
