import Foundation
import FuseModel
import FuseSystem

/// One router link of the WAN as the impairment sees it: the TUN device that its traffic
/// detours through, the routing table and rules that send it there. Pure.
///
/// In the WAN namespace, for link N (router link `r-DOMAIN`, subnet 172.31.N.0/24):
/// - pref 1000+N `iif i-DOMAIN to SUBNET lookup main`: a packet the forwarder released towards
///   the domain goes out of the router link;
/// - pref 1100+N `iif r-DOMAIN lookup 100+N`: what the domain sends enters the forwarder first;
/// - pref 1200+N `to SUBNET lookup 100+N`: what goes to the domain enters it too (also when it
///   comes out of another link's forwarder, so two impaired links add up);
/// - table 100+N: `default dev i-DOMAIN`.
/// The forwarder writes packets back into the device; the kernel then routes them by those
/// rules. Reverse-path filtering is off there (the packets' sources lie behind other links).
public struct ImpairedLink: Sendable, Equatable {
    public let domain: String
    public let wanLink: String
    public let device: String
    public let subnet: String
    public let table: Int
    public let index: Int

    public init(_ domain: LabDomain) {
        self.domain = domain.name
        wanLink = domain.wanLinkName
        device = "i-" + domain.name
        subnet = domain.linkSubnet
        table = 100 + domain.index
        index = domain.index
    }

    /// The rule preferences, in the order above.
    public var rulePreferences: [Int] { [1000, 1100, 1200].map { $0 + index } }

    /// Routing that sends the link's traffic through the device (the device exists already).
    public func routingCommands(namespace: String) -> [LabCommand] {
        let ip = ["ip", "-n", namespace]
        let pref = rulePreferences.map(String.init)
        return [
            LabCommand(ip + ["link", "set", device, "up"]),
            LabCommand(nsenterArguments(namespace: namespace) + ["sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0",
                                                                 "net.ipv4.conf.\(device).rp_filter=0", "net.ipv6.conf.\(device).disable_ipv6=1"]),
            LabCommand(ip + ["route", "replace", "default", "dev", device, "table", String(table)]),
            LabCommand(ip + ["rule", "add", "pref", pref[0], "iif", device, "to", subnet, "lookup", "main"]),
            LabCommand(ip + ["rule", "add", "pref", pref[1], "iif", wanLink, "lookup", String(table)]),
            LabCommand(ip + ["rule", "add", "pref", pref[2], "to", subnet, "lookup", String(table)]),
        ]
    }

    /// Undoes `routingCommands` (the device goes with its forwarder); a script that goes on
    /// after a failure, since some of it may never have been made.
    public func clearScript(namespace: String) -> String {
        let ip = "ip -n \(shellQuote(namespace))"
        return (rulePreferences.map { "\(ip) rule del pref \($0) 2>/dev/null" } + ["\(ip) route flush table \(table) 2>/dev/null", "true"])
            .joined(separator: "\n") + "\n"
    }
}

extension LabTopology {
    /// The WAN link of a domain, named by the domain (`companyA`, any case), its router
    /// (`a-r`) or the link's name in the WAN namespace (`r-companyA`).
    public func impairedLink(_ name: String) throws -> ImpairedLink {
        let lower = name.lowercased()
        guard let domain = domains.first(where: { $0.name.lowercased() == lower || $0.routerId == lower || $0.wanLinkName.lowercased() == lower }) else {
            throw LabError("no WAN link '\(name)' in lab '\(prefix)'; links: \(domains.map(\.name).joined(separator: ", ")) (or their routers: \(domains.map(\.routerId).joined(separator: ", ")))")
        }
        return ImpairedLink(domain)
    }
}

/// A link's impairment as `fuse-lab impair` shows it.
public struct LinkImpairmentState: Codable, Sendable, Equatable {
    public let link: String
    public let status: ImpairmentStatus?
}

extension Lab {
    var impairmentDirectory: String { topology.runDirectory + "/impair" }

    func impairmentFiles(_ link: ImpairedLink) -> (control: String, status: String, log: String) {
        let base = "\(impairmentDirectory)/\(link.domain)"
        return (base + ".control.json", base + ".status.json", base + ".log")
    }

    /// The argv that starts a link's forwarder: this executable's hidden subcommand.
    /// (A rebuild while a bench runs leaves "/proc/self/exe" pointing at "PATH (deleted)": the new
    /// binary at PATH speaks the same control file.)
    public static var defaultForwarder: [String] {
        let current = Executables.current
        return [current.hasSuffix(" (deleted)") ? String(current.dropLast(" (deleted)".count)) : current, "impair-forward"]
    }

    /// Impairs a WAN link, or changes its impairment at run time, and returns once its
    /// forwarder applies it. The first call starts the forwarder (`forwarder` + its options,
    /// in the WAN namespace) and routes the link through it; `clearImpairment` or `down`
    /// removes both. Requires root.
    @discardableResult
    public func impair(_ linkName: String, _ impairment: LinkImpairment, forwarder: [String] = Lab.defaultForwarder) throws -> ImpairmentStatus {
        try impairment.validate()
        let link = try topology.impairedLink(linkName)
        guard let wan = topology.wan else { throw LabError("lab '\(prefix)' has no WAN namespace") }
        let files = impairmentFiles(link)
        try FileManager.default.createDirectory(atPath: impairmentDirectory, withIntermediateDirectories: true)
        let running = currentStatus(files.status).flatMap { Daemon.isAlive($0.pid) ? $0 : nil }
        let control = ImpairmentControl(generation: (running?.generation ?? 0) + 1, impairment: impairment)
        try JSONEncoder().encode(control).write(to: URL(fileURLWithPath: files.control), options: .atomic)
        if running == nil {
            _ = try? runner.run(["sh", "-c", link.clearScript(namespace: wan.namespace)], input: nil, environment: nil)
            try? FileManager.default.removeItem(atPath: files.status)
            let argv = nsenterArguments(namespace: wan.namespace) + forwarder
                + ["--device", link.device, "--subnet", link.subnet, "--control", files.control, "--status", files.status]
            let pid = try Daemon.spawnAndWait(argv, logFile: files.log, timeout: .seconds(10)) { currentStatus(files.status) != nil }
            let result = try runner.run(["sh", "-c", renderShellScript(link.routingCommands(namespace: wan.namespace))], input: nil, environment: nil)
            guard result.succeeded else {
                _ = try? runner.run(["sh", "-c", link.clearScript(namespace: wan.namespace)], input: nil, environment: nil)
                Daemon.stop(pid)
                throw LabError("cannot route link \(link.domain) through \(link.device): \(oneLine(SystemError(result.stderr)))")
            }
        }
        var applied: ImpairmentStatus?
        guard pollUntil(.seconds(5), {
            applied = currentStatus(files.status)
            return applied?.generation == control.generation
        }), let applied else {
            throw LabError("the forwarder of link \(link.domain) did not apply the new impairment within 5 s (\(Daemon.lastLine(of: files.log) ?? files.log))")
        }
        return applied
    }

    /// Takes a link's impairment away: its traffic goes straight through again and the
    /// forwarder stops. Idempotent.
    public func clearImpairment(_ linkName: String) throws {
        let link = try topology.impairedLink(linkName)
        guard let wan = topology.wan else { return }
        let files = impairmentFiles(link)
        _ = try runner.run(["sh", "-c", link.clearScript(namespace: wan.namespace)], input: nil, environment: nil)
        if let pid = currentStatus(files.status)?.pid { Daemon.stop(pid) }
        for file in [files.control, files.status, files.log] { try? FileManager.default.removeItem(atPath: file) }
    }

    /// Every WAN link with its forwarder's status (nil: not impaired).
    public func impairments() -> [LinkImpairmentState] {
        topology.domains.map { domain in
            let link = ImpairedLink(domain)
            return LinkImpairmentState(link: link.domain, status: currentStatus(impairmentFiles(link).status).flatMap { Daemon.isAlive($0.pid) ? $0 : nil })
        }
    }

    func currentStatus(_ path: String) -> ImpairmentStatus? {
        FileManager.default.contents(atPath: path).flatMap { try? JSONDecoder().decode(ImpairmentStatus.self, from: $0) }
    }
}
