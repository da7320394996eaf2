import Foundation
import FuseModel
import FuseSystem

/// Pure normalisers that make a namespace snapshot deterministic: they keep names, addresses
/// and flags, and drop what changes between runs (ifindex numbers, MAC addresses and the IPv6
/// link-local addresses derived from them, counters, timers).
public enum SnapshotText {
    /// `ip -d -j link show` → one sorted line per link.
    public static func links(fromJSON json: String) -> [String] {
        objects(json).map { link in
            let name = link["ifname"] as? String ?? "?"
            var parts = [name]
            if let type = link["link_type"] as? String { parts.append("type=\(type)") }
            if let info = link["linkinfo"] as? [String: Any] {
                if let kind = info["info_kind"] as? String { parts.append("kind=\(kind)") }
                if let slave = info["info_slave_kind"] as? String { parts.append("port=\(slave)") }
            }
            if let mtu = link["mtu"] { parts.append("mtu=\(mtu)") }
            if let state = link["operstate"] as? String { parts.append("state=\(state)") }
            if let flags = link["flags"] as? [String] { parts.append("flags=\(flags.sorted().joined(separator: ","))") }
            if let master = link["master"] as? String { parts.append("master=\(master)") }
            return parts.joined(separator: " ")
        }.sorted()
    }

    /// `ip -j addr show` → one sorted line per address.
    public static func addresses(fromJSON json: String) -> [String] {
        var lines: [String] = []
        for link in objects(json) {
            let name = link["ifname"] as? String ?? "?"
            for info in link["addr_info"] as? [[String: Any]] ?? [] {
                let family = info["family"] as? String ?? "?"
                let local = maskLinkLocal(info["local"] as? String ?? "?")
                var line = "\(name) \(family) \(local)/\(info["prefixlen"] ?? "?")"
                if let peer = info["address"] as? String, peer != info["local"] as? String { line += " peer \(maskLinkLocal(peer))" }
                if let scope = info["scope"] as? String { line += " scope \(scope)" }
                for flag in ["secondary", "noprefixroute", "tentative", "dadfailed", "deprecated"] where info[flag] as? Bool == true {
                    line += " \(flag)"
                }
                lines.append(line)
            }
        }
        return lines.sorted()
    }

    /// Route or rule text → sorted lines without timers, link-local addresses masked.
    public static func sortedLines(_ text: String) -> [String] {
        text.split(whereSeparator: \.isNewline).map { line in
            var line = maskLinkLocal(String(line))
            line = line.replacingOccurrences(of: #" expires -?\d+sec"#, with: "", options: .regularExpression)
            return line.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }.sorted()
    }

    /// `nft list ruleset` keeps its order (it is structured); counters and timers are dropped.
    public static func ruleset(_ text: String) -> [String] {
        text.split(whereSeparator: \.isNewline).map { line in
            var line = String(line)
            line = line.replacingOccurrences(of: #"counter packets \d+ bytes \d+"#, with: "counter", options: .regularExpression)
            line = line.replacingOccurrences(of: #" expires [0-9hmsd.]+"#, with: "", options: .regularExpression)
            line = line.replacingOccurrences(of: #"quota (over )?(\d+ \w+) used \d+ \w+"#, with: "quota $1$2", options: .regularExpression)
            return maskLinkLocal(line)
        }.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    /// Replaces IPv6 link-local addresses (derived from random MAC addresses) with a marker.
    public static func maskLinkLocal(_ text: String) -> String {
        text.replacingOccurrences(of: #"fe80::[0-9a-f:]*[0-9a-f]"#, with: "fe80::LINKLOCAL", options: .regularExpression)
    }

    static func objects(_ json: String) -> [[String: Any]] {
        guard let data = json.data(using: .utf8),
              let array = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return [] }
        return array
    }
}

extension Lab {
    /// A deterministic text snapshot of a node's namespace for leave-without-a-trace checks:
    /// links, addresses, routes (all tables), rules, nftables ruleset, processes (command
    /// names), the node's state directory and WireGuard sockets (file paths), forwarding and
    /// rp_filter sysctls.
    public func snapshot(_ id: String) throws -> String {
        let node = try self.node(id)
        let ns = node.namespace
        var sections: [(String, [String])] = []

        sections.append(("links", SnapshotText.links(fromJSON: try runner.check(["ip", "-n", ns, "-d", "-j", "link", "show"]))))
        sections.append(("addresses", SnapshotText.addresses(fromJSON: try runner.check(["ip", "-n", ns, "-j", "addr", "show"]))))
        for family in ["-4", "-6"] {
            let routes = try runner.check(["ip", "-n", ns, family, "route", "show", "table", "all"])
            sections.append(("routes \(family)", SnapshotText.sortedLines(routes)))
        }
        for family in ["-4", "-6"] {
            sections.append(("rules \(family)", SnapshotText.sortedLines(try runner.check(["ip", "-n", ns, family, "rule", "show"]))))
        }
        sections.append(("nftables", SnapshotText.ruleset(try runner.check(nsenterArguments(namespace: ns) + ["nft", "list", "ruleset"]))))

        let processes = Lab.namespacePIDs([ns], runner: runner).compactMap(Daemon.name(of:))
        sections.append(("processes", processes.sorted()))

        if let stateDir = node.stateDir {
            sections.append(("state dir \(stateDir)", Lab.listing(stateDir)))
        }
        if let interface = node.interface {
            let root = LabAddressPlan.wireGuardSocketRoot
            let entries = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
                .filter { $0 == interface || $0.hasPrefix(interface + ".") }
                .map { "\(root)/\($0)" }
            sections.append(("wireguard sockets \(root)/\(interface).*", entries.sorted()))
            // The node's engine: its run folder, its cgroups, and mounts of the node's folders.
            let engine = EngineNames(interface: interface)
            sections.append(("engine run dir \(engine.runDirectory)", Lab.listing(engine.runDirectory)))
            let cgroups = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []).sorted()
                .map { "/sys/fs/cgroup/\($0)/\(engine.cgroupParent)" }.filter { FileManager.default.fileExists(atPath: $0) }
            sections.append(("cgroups \(engine.cgroupParent)", cgroups))
            let roots = [engine.runDirectory] + (node.stateDir.map { [$0] } ?? [])
            let mounts = DockerEngine.mountPoints(under: roots)
            sections.append(("mounts", mounts.sorted()))
        }

        let keys = ["net.ipv4.ip_forward", "net.ipv4.conf.all.rp_filter"]
        let values = try runner.check(nsenterArguments(namespace: ns) + ["sysctl", "-n"] + keys)
            .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        sections.append(("sysctl", zip(keys, values).map { "\($0) = \($1)" }))

        return sections.map { title, lines in
            "# \(title)\n" + lines.map { $0 + "\n" }.joined()
        }.joined()
    }

    /// Paths under `directory`, relative, sorted; directories end in `/`.
    static func listing(_ directory: String) -> [String] {
        var isDirectory: ObjCBool = false
        // A missing directory lists like an empty one: `fuse leave` may remove its state
        // directory, which leaves no trace either.
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else { return [] }
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var paths: [String] = []
        while let path = enumerator.nextObject() as? String {
            var sub: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: "\(directory)/\(path)", isDirectory: &sub)
            paths.append(sub.boolValue ? path + "/" : path)
        }
        return paths.sorted()
    }
}
