import ArgumentParser
import Foundation
import FuseLab
import FuseSystem

struct BenchFootprint: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "footprint",
        abstract: "Memory and disk of a master and a worker (the paper's section 5.1).",
        discussion: """
            Memory two ways: as the paper measured it — free memory (MemAvailable) before and \
            after the master starts, and before and after a1 joins (with workloads) — and as the \
            RSS of each process of the master and of a1. Free memory moves with everything else \
            on a shared machine; RSS does not. Disk: what FUSE adds to a Debian host that runs \
            Docker — the fuse binary (as built, and stripped), wireguard-go, and on the master \
            the image registry (docker-registry); sizes of packages as dpkg records them. Writes \
            footprint.csv, footprint.svg, footprint.json and report.md.
            """)

    @OptionGroup var bench: BenchOptions
    @Option(help: "Name prefix of the lab (1–6 of a-z, 0-9, '-').")
    var prefix: String = "bf-"
    @OptionGroup var federation: FederationOptions

    func run() throws {
        let fusePath = try federation.fusePath()
        let output = try BenchOutput(bench.out)
        let clock = BenchClock(part: "footprint")
        let progress = Progress()
        var rows: [FootprintRow] = []
        try withBenchLab(prefix: prefix, apiPort: federation.apiPort, wgPort: federation.wgPort, progress: progress) { lab in
            let node = LifecycleBench(lab: lab, fusePath: try copyFuse(fusePath, into: lab), progress: progress)
            let before = try Self.memAvailable()
            _ = try node.fuse("master", ["master", "init", "--name", "footprint", "--domain", "crisis", "--endpoint", lab.masterEndpoint,
                                         "--api-port", String(lab.apiPort), "--wg-port", String(lab.wgPort)])
            _ = try node.fuse("master", ["master", "start"])
            let afterMaster = try Self.memAvailable()
            _ = try node.join("a1", domain: "companyA")
            let afterWorker = try Self.memAvailable()
            progress(String(format: "free memory: %.0f MiB before, %.0f after the master, %.0f after a1's join",
                            Double(before) / 1_048_576, Double(afterMaster) / 1_048_576, Double(afterWorker) / 1_048_576))
            rows += try node.memory()
            rows.append(FootprintRow(kind: .memory, item: "master node, free memory used (MemAvailable before − after start)",
                                     bytes: Swift.max(before - afterMaster, 0), paperMiB: PaperFootprint.masterMemoryMiB))
            rows.append(FootprintRow(kind: .memory, item: "worker node, free memory used (MemAvailable before − after join)",
                                     bytes: Swift.max(afterMaster - afterWorker, 0), paperMiB: PaperFootprint.workerMemoryMiB))
            _ = try node.fuse("a1", ["leave"])
            _ = try node.fuse("master", ["master", "destroy"])
            try node.checkNothingLeft("master")
        }
        rows += try Self.disk(fuse: fusePath, scratch: NSTemporaryDirectory())
        let results = FootprintResults(rows: rows)
        var paths = try output.write([
            ("footprint.csv", BenchReport.memoryCSV(rows)),
            ("footprint.svg", Self.chart(rows)),
        ])
        paths += try output.record(PaperResults.files.footprint, BenchPart(context: clock.context(), results: results))
        if bench.json {
            printJSON(try benchEncoder().encode(results))
            return
        }
        print(BenchLifecycle.footprintTable(rows), terminator: "")
        print("\nwrote:\n" + paths.map { "  " + $0 }.joined(separator: "\n"))
    }

    /// Ours beside the paper's for every whole-node figure.
    static func chart(_ rows: [FootprintRow]) -> String {
        BenchReport.barChartSVG(
            title: "FUSE footprint beside the paper's (section 5.1)", subtitle: "MiB; memory: RSS totals and free-memory difference; disk: what FUSE adds to Debian with Docker",
            unit: "MiB", series: [ChartSeries("FUSE (ours)", BenchReport.palette[0]), ChartSeries("paper", BenchReport.palette[1])],
            groups: rows.filter { $0.paperMiB != nil }.map { (shortLabel($0), [$0.mebibytes, $0.paperMiB]) })
    }

    /// "master memory (RSS)", "worker disk", ...: the chart's row labels.
    static func shortLabel(_ row: FootprintRow) -> String {
        let node = row.item.hasPrefix("master") ? "master" : "worker"
        switch row.kind {
        case .disk: return "\(node) disk"
        case .memory: return "\(node) memory (" + (row.item.contains("MemAvailable") ? "free before − after)" : "RSS)")
        }
    }

    static func memAvailable() throws -> Int {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8), let kib = BenchClock.meminfoKiB(text, "MemAvailable") else {
            throw LabError("cannot read MemAvailable from /proc/meminfo")
        }
        return kib * 1024
    }

    /// What a worker and a master need beyond Debian with Docker: the fuse binary and
    /// wireguard-go; the master also the registry. Package sizes from dpkg (Installed-Size).
    static func disk(fuse: String, scratch: String) throws -> [FootprintRow] {
        let binary = URL(fileURLWithPath: fuse).resolvingSymlinksInPath().path
        guard let built = (try? FileManager.default.attributesOfItem(atPath: binary))?[.size] as? NSNumber else {
            throw LabError("cannot read the size of \(binary)")
        }
        var rows = [FootprintRow(kind: .disk, item: "fuse binary as built (\(binary))", bytes: built.intValue)]
        var fuseBytes = built.intValue
        let stripped = scratch + "/fuse-stripped-\(getpid())"
        if Executables.find("strip") != nil, (try? HostCommandRunner().check(["strip", "-o", stripped, binary])) != nil,
           let size = (try? FileManager.default.attributesOfItem(atPath: stripped))?[.size] as? NSNumber {
            rows.append(FootprintRow(kind: .disk, item: "fuse binary, stripped", bytes: size.intValue))
            fuseBytes = size.intValue
            try? FileManager.default.removeItem(atPath: stripped)
        }
        func package(_ name: String) throws -> Int {
            guard let text = try? HostCommandRunner().check(["dpkg-query", "-W", "-f", "${Installed-Size}", name]),
                  let kib = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw LabError("cannot read the installed size of package \(name) (dpkg-query -W \(name))")
            }
            return kib * 1024
        }
        let wireGuard = try package("wireguard-go"), registry = try package("docker-registry")
        rows.append(FootprintRow(kind: .disk, item: "package wireguard-go", bytes: wireGuard))
        rows.append(FootprintRow(kind: .disk, item: "package docker-registry (master only)", bytes: registry))
        rows.append(FootprintRow(kind: .disk, item: "worker node on disk: fuse + wireguard-go", bytes: fuseBytes + wireGuard, paperMiB: PaperFootprint.workerDiskMiB))
        rows.append(FootprintRow(kind: .disk, item: "master node on disk: fuse + wireguard-go + docker-registry", bytes: fuseBytes + wireGuard + registry,
                                 paperMiB: PaperFootprint.masterDiskMiB))
        return rows
    }
}
