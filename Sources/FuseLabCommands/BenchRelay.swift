import ArgumentParser
import Foundation
import FuseLab
import FuseModel
import FuseSystem

struct BenchRelay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Join time from a domain that blocks UDP, and throughput and RTT through the relay beside direct UDP, in one run.",
        discussion: """
            Brings up a lab with companyC, whose router lets no UDP out (master without workloads, \
            a1 in companyA, c1 in companyC; policy: nodes reach each other). Times 'fuse join' of \
            c1 (--runs times: join, leave, join again; the last stays), then measures c1 → a1 \
            through the hub over the relay: iperf3 TCP, iperf3 UDP at --udp-rate, 20 pings; the \
            CPU of the master process (which carries the relay) during each. Then lifts the block \
            ('fuse-lab egress companyC open'), waits until c1's path is direct, and measures the \
            same. Writes relay.csv, relay-joins.csv and relay.svg to --out. The lab is torn down \
            at the end, also on failure or Ctrl-C.
            """)

    @OptionGroup var bench: BenchOptions
    @Option(help: "Seconds per iperf3 run.")
    var seconds: Int = 10
    @Option(help: "Joins of c1 to time (1–20).")
    var runs: Int = 3
    @Option(help: "UDP offered rate, e.g. 400mbit.", transform: LinkImpairment.parseRate)
    var udpRate: Double = 4e8
    @Option(help: "Name prefix of the lab (1–6 of a-z, 0-9, '-').")
    var prefix: String = "bx-"
    @OptionGroup var federation: FederationOptions

    func validate() throws {
        guard (1...60).contains(seconds) else { throw ValidationError("--seconds must be 1 to 60, not \(seconds)") }
        guard (1...20).contains(runs) else { throw ValidationError("--runs must be 1 to 20, not \(runs)") }
    }

    func run() throws {
        let fusePath = try federation.fusePath()
        let output = try BenchOutput(bench.out)
        let progress = Progress()
        var joins: [Double] = []
        var measurements: [RelayMeasurement] = []
        try withBenchLab(prefix: prefix, apiPort: federation.apiPort, wgPort: federation.wgPort, udpBlockedDomain: true, progress: progress) { lab in
            let fuse = try copyFuse(fusePath, into: lab)
            let session = LifecycleBench(lab: lab, fusePath: fuse, progress: progress)
            try session.startMasterWithoutWorkloads(policy: LabPolicy.open)
            let a1 = try session.joinWithoutWorkloads("a1", domain: "companyA").host
            for run in 1...runs {
                if run > 1 { _ = try session.fuse("c1", ["leave"]) }
                let joined = try session.joinWithoutWorkloads("c1", domain: "companyC")
                joins.append(joined.seconds)
                progress(String(format: "c1 joined from companyC in %.2f s (run %d/%d)", joined.seconds, run, runs))
            }
            let masterPID = try LifecycleBench.pid(from: try stateDir(lab, "master") + "/master/master.pid")
            let watched = [WatchedProcess(node: "master", name: "fuse master", pid: masterPID, isHub: true)]
            let iperf = IperfRunner(lab: lab, seconds: seconds, from: "c1")
            for path in [TunnelPath.relay, .direct] {
                if path == .direct {
                    try lab.setEgress(.open, domain: "companyC")
                    guard pollUntil(.seconds(30), every: .milliseconds(250), { Self.path(lab, fuse) == .direct }) else {
                        throw LabError("c1 did not move to direct within 30 s of lifting the block")
                    }
                }
                guard Self.path(lab, fuse) == path else { throw LabError("c1's path is not \(path.rawValue)") }
                for proto in ThroughputProtocol.allCases {
                    let server = try iperf.server("a1", port: 5201)
                    defer { Daemon.stop(server) }
                    let (report, usage) = try measureUsage(watched) { try iperf.client(to: a1, port: 5201, proto, udpRate: udpRate) }
                    let m = RelayMeasurement(path: path, kind: proto.rawValue, bitsPerSecond: report.receivedBitsPerSecond,
                                             lossPercent: report.lostPercent, masterCPU: usage.first?.cpuPercent ?? 0)
                    measurements.append(m)
                    progress(String(format: "%@ %@: %.0f Mbit/s%@, master CPU %.0f %%", path.rawValue, proto.rawValue.uppercased(), m.bitsPerSecond / 1e6,
                                    proto == .udp ? String(format: " (%.1f %% lost)", m.lossPercent) : "", m.masterCPU))
                }
                let ping = try lab.exec("c1", ["ping", "-n", "-q", "-c", "20", "-i", "0.1", a1], timeout: .seconds(30))
                let rtt = Self.averageRTT(ping.stdout) ?? 0
                measurements.append(RelayMeasurement(path: path, kind: "ping", rttMilliseconds: rtt))
                progress(String(format: "%@ ping: %.3f ms", path.rawValue, rtt))
            }
        }
        let results = RelayResults(seconds: seconds, joinSeconds: joins, measurements: measurements)
        let paths = try output.write([("relay.csv", results.csv), ("relay-joins.csv", results.joinCSV), ("relay.svg", results.svg)])
        if bench.json {
            printJSON(try benchEncoder().encode(results))
            return
        }
        print(renderTable(["PATH", "KIND", "Mbit/s", "LOSS %", "RTT ms", "MASTER CPU %", "CPU %/Mbit"], measurements.map { m in
            [m.path.rawValue, m.kind, m.kind == "ping" ? "-" : String(format: "%.0f", m.bitsPerSecond / 1e6), m.kind == "udp" ? String(format: "%.1f", m.lossPercent) : "-",
             m.kind == "ping" ? String(format: "%.3f", m.rttMilliseconds) : "-", m.kind == "ping" ? "-" : String(format: "%.0f", m.masterCPU),
             m.masterCPUPerMbit.map { String(format: "%.3f", $0) } ?? "-"]
        }), terminator: "")
        print("join from companyC (s): " + joins.map { String(format: "%.2f", $0) }.joined(separator: ", "))
        if let ratio = results.tcpRatio { print(String(format: "relay TCP / direct TCP = %.2f (goal ≥ 0.5)", ratio)) }
        print("\nwrote:\n" + paths.map { "  " + $0 }.joined(separator: "\n"))
    }

    static func path(_ lab: Lab, _ fuse: String) -> TunnelPath? {
        struct Status: Decodable { let path: TunnelPath? }
        guard let result = try? lab.exec("c1", [fuse, "status", "--json"], timeout: .seconds(20)), result.succeeded else { return nil }
        return (try? JSONDecoder().decode(Status.self, from: Data(result.stdout.utf8)))?.path
    }

    /// The average of `rtt min/avg/max/mdev = a/b/c/d ms`.
    static func averageRTT(_ output: String) -> Double? {
        guard let line = output.split(separator: "\n").first(where: { $0.contains("min/avg/max") }),
              let values = line.split(separator: "=").last?.split(separator: "/"), values.count >= 2 else { return nil }
        return Double(values[1].trimmingCharacters(in: .whitespaces))
    }

    func stateDir(_ lab: Lab, _ node: String) throws -> String {
        guard let stateDir = try lab.node(node).stateDir else { throw LabError("\(node) has no state dir") }
        return stateDir
    }
}
