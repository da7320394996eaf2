import ArgumentParser
import Foundation
import FuseLab
import FuseSystem

struct BenchThroughput: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "throughput",
        abstract: "iperf3 TCP and UDP through the raw link, OpenVPN, Nebula, plain wireguard-go and FUSE, in one run (the paper's Fig. 6).",
        discussion: """
            Brings up one lab whose crisis router publishes one port (--port) for TCP and UDP, \
            and, one tunnel after the other, measures a1 → master across the WAN and a1 → b1 \
            through the master: the raw link (no tunnel; a1 → master only, the workers sit \
            behind NAT), OpenVPN 2.6 over TCP with a static key and AES-256-CBC as the paper set \
            it up (one server instance per worker on the master), Nebula 1.6 (lighthouse and relay \
            on the master, hole punching off), plain wireguard-go with the master as hub, and \
            FUSE (no workloads). Per run: delivered rate, UDP loss at the offered rate, and the \
            RSS and CPU of each tunnel process, the hub's included. Writes throughput.csv, \
            throughput-processes.csv, throughput.svg, throughput.json and report.md.
            """)

    @OptionGroup var bench: BenchOptions
    @Option(help: "Seconds per iperf3 run.")
    var seconds: Int = 5
    @Option(help: "UDP offered rate, e.g. 3gbit (it should saturate every tunnel).", transform: LinkImpairment.parseRate)
    var udpRate: Double = 3e9
    @Option(parsing: .upToNextOption, help: "The tunnels to measure (default: all): \(TunnelPeer.allCases.map(\.rawValue).joined(separator: ", ")).")
    var peers: [TunnelPeer] = TunnelPeer.allCases
    @Option(help: "The port the master's tunnels listen on (TCP and UDP); OpenVPN also uses the next one.")
    var port: Int = 51820
    @Option(help: "Name prefix of the lab (1–6 of a-z, 0-9, '-').")
    var prefix: String = "bt-"
    @Option(help: "The fuse binary (default: 'fuse' next to this fuse-lab executable).")
    var fuse: String?

    func validate() throws {
        guard (1...60).contains(seconds) else { throw ValidationError("--seconds must be 1 to 60, not \(seconds)") }
        guard (1024...65534).contains(port) else { throw ValidationError("--port must be 1024 to 65534, not \(port)") }
    }

    func run() throws {
        let fusePath = try FederationOptions.parse(fuse.map { ["--fuse", $0] } ?? []).fusePath()
        let output = try BenchOutput(bench.out)
        let clock = BenchClock(part: "throughput")
        let progress = Progress()
        var measurements: [ThroughputMeasurement] = []
        var notes: [String: String] = [:]
        try withBenchLab(prefix: prefix, apiPort: port, wgPort: port, progress: progress) { lab in
            let tunnels = TunnelPeers(lab: lab, fusePath: try copyFuse(fusePath, into: lab)) { progress($0) }
            for peer in TunnelPeer.allCases where peers.contains(peer) {
                progress("\(peer.label): up")
                let session: PeerSession
                do { session = try tunnels.up(peer) } catch {
                    progress("\(peer.label): not measured: \(oneLine(error))")
                    notes[peer.label] = "not measured: \(oneLine(error))"
                    continue
                }
                defer { session.stop() }
                notes[peer.label] = "worker → worker " + session.workerPath
                let iperf = IperfRunner(lab: lab, seconds: seconds)
                let targets: [(ThroughputPath, String, String, Int)] = [(.workerToMaster, "master", session.master, session.masterPort)]
                    + (session.worker.map { [(.workerToWorker, "b1", $0, 5201)] } ?? [])
                for (path, node, address, serverPort) in targets {
                    var tcpRate: Double?
                    for proto in ThroughputProtocol.allCases {
                        // A fresh server per run: a flood through a TCP tunnel can leave the last one stuck.
                        // When a UDP flood at the offered rate breaks iperf3's control connection
                        // (it shares the tunnel), once more at twice the TCP rate.
                        var attempt: (IperfReport, [ProcessUsage])?
                        var failure = ""
                        for rate in [udpRate] + (proto == .udp ? tcpRate.map { [Swift.min(udpRate, 2 * $0)] } ?? [] : []) where attempt == nil {
                            let server = try iperf.server(node, port: serverPort)
                            defer { Daemon.stop(server) }
                            do {
                                attempt = try measureUsage(session.processes) { try iperf.client(to: address, port: serverPort, proto, udpRate: rate) }
                            } catch {
                                failure = oneLine(error)
                                progress("\(peer.label) \(path.title) \(proto.rawValue.uppercased()) at \(BenchReport.number(rate / 1e6)) Mbit/s offered: \(failure)")
                            }
                        }
                        guard let (report, usage) = attempt else {
                            notes[peer.label, default: ""] += "; \(path.title) \(proto.rawValue.uppercased()) not measured: \(failure)"
                            continue
                        }
                        if proto == .tcp { tcpRate = report.receivedBitsPerSecond }
                        let measurement = ThroughputMeasurement(peer: peer, path: path, proto: proto, report: report, usage: usage)
                        measurements.append(measurement)
                        progress(String(format: "%@ %@ %@: %.0f Mbit/s delivered%@, tunnel CPU %.0f %%, hub CPU %.0f %%", peer.label, path.title,
                                        proto.rawValue.uppercased(), report.receivedBitsPerSecond / 1e6,
                                        proto == .udp ? String(format: " (%.1f %% lost)", report.lostPercent) : "", measurement.tunnelCPU, measurement.hubCPU))
                    }
                }
            }
        }
        let results = ThroughputResults(seconds: seconds, udpOffered: udpRate, measurements: measurements, notes: notes)
        var paths = try output.write([("throughput.csv", results.csv), ("throughput-processes.csv", results.processesCSV), ("throughput.svg", results.svg)])
        paths += try output.record(PaperResults.files.throughput, BenchPart(context: clock.context(), results: results))
        if bench.json {
            printJSON(try benchEncoder().encode(results))
            return
        }
        print(renderTable(["TUNNEL", "PATH", "PROTO", "DELIVERED Mbit/s", "LOSS %", "TUNNEL CPU %", "HUB CPU %", "RSS MiB"], measurements.map { m in
            [m.peer.label, m.path.title, m.proto.rawValue, String(format: "%.0f", m.report.receivedBitsPerSecond / 1e6),
             m.proto == .udp ? String(format: "%.1f", m.report.lostPercent) : "-", String(format: "%.0f", m.tunnelCPU),
             String(format: "%.0f", m.hubCPU), String(format: "%.1f", Double(m.rssBytes) / 1_048_576)]
        }), terminator: "")
        print("paper (FUSE on OpenVPN, Fig. 6): TCP \(ThroughputResults.paperTCP), UDP \(ThroughputResults.paperUDP) Mbit/s")
        print("\nwrote:\n" + paths.map { "  " + $0 }.joined(separator: "\n"))
    }
}

extension TunnelPeer: ExpressibleByArgument {}

/// iperf3 in the lab: a server in a node, a client in `from` (a1 unless told).
struct IperfRunner {
    let lab: Lab
    let seconds: Int
    var from = "a1"

    /// Starts `iperf3 -s` in a node and waits until it listens.
    func server(_ node: String, port: Int) throws -> Int32 {
        let pid = try Spawn.start(try lab.execArguments(node, ["iperf3", "-s", "-p", String(port)]), stdin: .devNull, stdout: .devNull,
                                  stderr: .devNull, environment: [:], session: .newGroup)
        guard pollUntil(.seconds(5), every: .milliseconds(50), {
            (try? lab.exec(node, ["sh", "-c", "ss -Hltn 'sport = :\(port)' | grep -q ."]).succeeded) == true
        }) else {
            Daemon.stop(pid)
            throw LabError("iperf3 server in \(node) does not listen on port \(port) within 5 s")
        }
        return pid
    }

    func client(to address: String, port: Int, _ proto: ThroughputProtocol, udpRate: Double) throws -> IperfReport {
        let udp = proto == .udp ? ["-u", "-b", String(Int(udpRate)), "-l", "1200"] : []
        let result = try lab.exec(from, ["iperf3", "-c", address, "-p", String(port), "-t", String(seconds), "--json"] + udp,
                                  timeout: .seconds(Int64(seconds) + 30))
        return try IperfReport.decode(result.stdout)
    }
}
