import ArgumentParser
import Foundation
import FuseLab
import FuseModel
import FuseSystem

struct BenchRestart: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart",
        abstract: "Measure the outage between two workers when the master restarts, the hub's wireguard-go is killed, a worker's daemon is killed and restarted, or a worker reboots.",
        discussion: """
            Brings up a lab without workloads (master, a1 in companyA, b1 in companyB; policy: \
            nodes ping each other) and, per run and event, sends a steady ping stream from b1 to \
            a1's VPN address (every 50 ms, through the hub) while: 'fuse master stop' + 'fuse \
            master start' (master-restart); the hub's wireguard-go is SIGKILLed (hub-kill: the \
            master's daemon starts it again); a1's 'fuse agent run' is SIGKILLed and started again \
            as its unit would (agent-restart); a1's namespace is rebooted, simulated: its \
            processes SIGKILLed, its interface, nftables table and runtime files removed, then \
            'fuse agent run' (node-reboot). The outage is the longest silence of the stream, \
            from the last reply before to the first after (about 0.05 s when nothing was lost). \
            Writes restart.csv and restart-summary.csv (min/median/max per event) to --out. \
            The lab is torn down at the end, also on failure or Ctrl-C.
            """)

    @Option(help: "Runs per event (1–50).")
    var runs: Int = 10
    @Option(help: "Events to measure, comma-separated (default: all of them).")
    var events: String = RestartEvent.allCases.map(\.rawValue).joined(separator: ",")
    @Option(help: "Name prefix of the lab (1–6 of a-z, 0-9, '-').")
    var prefix: String = "br-"
    @OptionGroup var federation: FederationOptions
    @OptionGroup var bench: BenchOptions

    static let pingInterval = 0.05
    /// How long traffic may stay away after an event before the run counts as failed.
    static let recoveryLimit: Duration = .seconds(60)

    func validate() throws {
        guard (1...50).contains(runs) else { throw ValidationError("--runs must be 1 to 50, not \(runs)") }
        _ = try selected()
    }

    func selected() throws -> [RestartEvent] {
        try events.split(separator: ",").map { part in
            guard let event = RestartEvent(rawValue: String(part)) else {
                throw ValidationError("unknown event \(part); use \(RestartEvent.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return event
        }
    }

    func run() throws {
        let fusePath = try federation.fusePath()
        let output = try BenchOutput(bench.out)
        let progress = Progress()
        let events = try selected()
        var measurements: [RestartMeasurement] = []
        try withBenchLab(prefix: prefix, apiPort: federation.apiPort, wgPort: federation.wgPort, progress: progress) { lab in
            let fuse = try copyFuse(fusePath, into: lab)
            let session = LifecycleBench(lab: lab, fusePath: fuse, progress: progress)
            try session.startMasterWithoutWorkloads(policy: LabPolicy.ping)
            var a1Address = ""
            for (node, domain) in [("a1", "companyA"), ("b1", "companyB")] {
                let joined = try session.joinWithoutWorkloads(node, domain: domain)
                if node == "a1" { a1Address = joined.host }
                progress("\(node) joined: \(joined.host)")
            }
            let stream = PingStream(lab: lab, from: "b1", to: a1Address, interval: Self.pingInterval, recoveryLimit: Self.recoveryLimit)
            for run in 1...runs {
                for event in events {
                    let outage = try stream.measure {
                        try RestartActions(lab: lab, session: session, fuse: fuse).perform(event)
                    }
                    measurements.append(RestartMeasurement(event: event, run: run, outage: outage))
                    progress("run \(run)/\(runs) \(event.rawValue): " + (outage.map { String(format: "%.3f s without traffic, back %.3f s after the event", $0.seconds, $0.afterEvent) }
                        ?? "traffic did not come back"))
                }
            }
        }
        let results = RestartResults(pingInterval: Self.pingInterval, measurements: measurements)
        let paths = try output.write([("restart.csv", results.csv), ("restart-summary.csv", results.summaryCSV)])
        if bench.json {
            printJSON(try benchEncoder().encode(results))
            return
        }
        print(renderTable(["EVENT", "RUNS", "FAILED", "MIN s", "MEDIAN s", "MAX s"], events.map { event in
            let spread = results.spread(event)
            return [event.rawValue, String(runs), String(results.failures(event))]
                + [spread?.min, spread?.median, spread?.max].map { $0.map { String(format: "%.3f", $0) } ?? "-" }
        }), terminator: "")
        print("\nwrote:\n" + paths.map { "  " + $0 }.joined(separator: "\n"))
    }
}

/// What each event does to the lab.
struct RestartActions {
    let lab: Lab
    let session: LifecycleBench
    let fuse: String

    func perform(_ event: RestartEvent) throws {
        switch event {
        case .masterRestart:
            _ = try session.fuse("master", ["master", "stop"])
            _ = try session.fuse("master", ["master", "start"])
        case .hubKill:
            let pid = try LifecycleBench.pid(from: try stateDir("master") + "/node/wireguard.pid")
            kill(pid, SIGKILL)
        case .agentRestart:
            let pid = try LifecycleBench.pid(from: try stateDir("a1") + "/node/agent.pid")
            kill(pid, SIGKILL)
            guard pollUntil(.seconds(5), { !Daemon.isAlive(pid) }) else { throw LabError("a1's daemon survived SIGKILL") }
            _ = try lab.startDaemon("a1", fuse: fuse, master: false)
        case .nodeReboot:
            try lab.simulateReboot("a1")
            _ = try lab.startDaemon("a1", fuse: fuse, master: false)
        }
    }

    func stateDir(_ node: String) throws -> String {
        guard let stateDir = try lab.node(node).stateDir else { throw LabError("\(node) has no state dir") }
        return stateDir
    }
}
