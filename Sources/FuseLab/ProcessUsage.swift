import Foundation
import FuseModel
import FuseSystem
#if canImport(Glibc)
import Glibc
#endif

/// A process a benchmark watches: which node it runs in, what it is, whether it is the hub's.
public struct WatchedProcess: Sendable, Equatable, Codable {
    public let node: String
    public let name: String
    public let pid: Int32
    /// On the hub (the master): the process that forwards worker → worker traffic.
    public let isHub: Bool

    public init(node: String, name: String, pid: Int32, isHub: Bool) {
        self.node = node
        self.name = name
        self.pid = pid
        self.isHub = isHub
    }
}

/// RSS and CPU of one process over one measurement.
public struct ProcessUsage: Sendable, Equatable, Codable {
    public let process: WatchedProcess
    public let rssBytes: Int
    /// CPU time over the measurement in % of one core.
    public let cpuPercent: Double

    public init(process: WatchedProcess, rssBytes: Int, cpuPercent: Double) {
        self.process = process
        self.rssBytes = rssBytes
        self.cpuPercent = cpuPercent
    }
}

/// CPU ticks of processes, read before and after a measurement.
public struct CPUSample: Sendable {
    public let ticks: [Int32: Int]
    public let time: ContinuousClock.Instant

    /// utime + stime (fields 14 and 15) of a `/proc/PID/stat` text, in clock ticks.
    public static func ticks(fromStat text: String) -> Int? {
        // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3), so utime (14) is fields[11] and stime (15) fields[12].
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        return user + system
    }

    public static func take(_ pids: [Int32]) -> CPUSample {
        var ticks: [Int32: Int] = [:]
        for pid in pids {
            if let text = ProcFile.text("/proc/\(pid)/stat"), let value = Self.ticks(fromStat: text) {
                ticks[pid] = value
            }
        }
        return CPUSample(ticks: ticks, time: .now)
    }

    /// Each process's CPU between `self` and `later`, in % of one core.
    public func percent(until later: CPUSample) -> [Int32: Double] {
        let elapsed = (later.time - time).inSeconds
        let hertz = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard elapsed > 0, hertz > 0 else { return [:] }
        var result: [Int32: Double] = [:]
        for (pid, before) in ticks {
            if let after = later.ticks[pid] { result[pid] = Double(after - before) / hertz / elapsed * 100 }
        }
        return result
    }
}

/// RSS and CPU of the watched processes while `body` runs.
public func measureUsage<T>(_ processes: [WatchedProcess], _ body: () throws -> T) rethrows -> (T, [ProcessUsage]) {
    let before = CPUSample.take(processes.map(\.pid))
    let value = try body()
    let after = CPUSample.take(processes.map(\.pid))
    let cpu = before.percent(until: after)
    let usage = processes.map { process in
        let status = ProcFile.text("/proc/\(process.pid)/status") ?? ""
        return ProcessUsage(process: process, rssBytes: (BenchReport.vmRSSKiB(fromStatus: status) ?? 0) * 1024, cpuPercent: cpu[process.pid] ?? 0)
    }
    return (value, usage)
}
