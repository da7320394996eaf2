import Foundation
import FuseModel
import FuseSystem

/// The tunnels the throughput benchmark puts side by side, all across the same lab WAN from
/// a1 (companyA) to the master (crisis), and from a1 to b1 (companyB) through the master.
public enum TunnelPeer: String, CaseIterable, Sendable, Codable {
    case raw
    case openvpn
    case nebula
    case wireguardGo = "wireguard-go"
    case fuse

    public var title: String {
        switch self {
        case .raw: "raw link (no tunnel)"
        case .openvpn: "OpenVPN 2.6, TCP, static key, AES-256-CBC (the paper's)"
        case .nebula: "Nebula 1.6 (UDP, AES-256-GCM)"
        case .wireguardGo: "plain wireguard-go"
        case .fuse: "FUSE (wireguard-go, hub on the master)"
        }
    }

    /// The short name in tables and plots.
    public var label: String {
        switch self {
        case .raw: "raw link"
        case .openvpn: "OpenVPN"
        case .nebula: "Nebula"
        case .wireguardGo: "wireguard-go"
        case .fuse: "FUSE"
        }
    }

    /// The programs it needs on PATH (besides iperf3).
    public var tools: [String] {
        switch self {
        case .raw, .fuse: []
        case .openvpn: ["openvpn"]
        case .nebula: ["nebula", "nebula-cert"]
        case .wireguardGo: ["wireguard-go", "wg"]
        }
    }
}

/// A tunnel up in a lab: where iperf3 connects for each path, and the processes to watch.
public final class PeerSession {
    public let peer: TunnelPeer
    /// The master's address on this tunnel and the port its iperf3 server listens on.
    public let master: String
    public let masterPort: Int
    /// b1's address on this tunnel (worker → worker through the hub); nil: not measured.
    public let worker: String?
    /// How worker → worker traffic goes ("through the hub", or why it is not measured).
    public let workerPath: String
    public let processes: [WatchedProcess]
    private let teardown: () -> Void

    init(peer: TunnelPeer, master: String, masterPort: Int, worker: String?, workerPath: String, processes: [WatchedProcess], teardown: @escaping () -> Void) {
        self.peer = peer
        self.master = master
        self.masterPort = masterPort
        self.worker = worker
        self.workerPath = workerPath
        self.processes = processes
        self.teardown = teardown
    }

    public func stop() { teardown() }
}

/// Brings each tunnel up between the lab's a1, b1 and master, one at a time. The lab must
/// publish one port number for both TCP and UDP at the crisis router (`apiPort == wgPort`):
/// every tunnel's server listens there, as FUSE's does. Requires root.
public struct TunnelPeers {
    public let lab: Lab
    /// Where keys, configurations and logs go (inside the lab's run directory).
    public let directory: String
    /// The fuse binary (for the FUSE peer).
    public let fusePath: String
    public let progress: (String) -> Void

    public init(lab: Lab, fusePath: String, progress: @escaping (String) -> Void) {
        self.lab = lab
        directory = lab.topology.runDirectory + "/peers"
        self.fusePath = fusePath
        self.progress = progress
    }

    var port: Int { lab.wgPort }
    var publicAddress: String { lab.masterEndpoint }

    public func up(_ peer: TunnelPeer) throws -> PeerSession {
        guard lab.apiPort == lab.wgPort else { throw LabError("the throughput lab needs one port for TCP and UDP (--api-port = --wg-port)") }
        for tool in peer.tools + ["iperf3"] where Executables.find(tool) == nil {
            throw LabError("\(tool) not found on PATH (apt-get install \(tool == "nebula-cert" ? "nebula" : tool == "wg" ? "wireguard-tools" : tool))")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        switch peer {
        case .raw:
            return PeerSession(peer: peer, master: publicAddress, masterPort: port, worker: nil,
                               workerPath: "not measured: both workers sit behind NAT (no path without a tunnel)", processes: [], teardown: {})
        case .openvpn: return try openVPN()
        case .nebula: return try nebula()
        case .wireguardGo: return try wireGuardGo()
        case .fuse: return try fuse()
        }
    }

    // MARK: - Helpers

    /// Starts `argv` in a node as a child of its own process group, output to a log file.
    func start(_ node: String, _ argv: [String], log: String, environment: [String: String] = [:]) throws -> Int32 {
        try Spawn.start(try lab.execArguments(node, argv), stdin: .devNull, stdout: .file("\(directory)/\(log)", append: true),
                        stderr: .file("\(directory)/\(log)", append: true), environment: environment, session: .newGroup)
    }

    @discardableResult
    func run(_ node: String, _ argv: [String], input: String? = nil) throws -> String {
        let result = try lab.exec(node, argv, input: input, timeout: .seconds(60))
        guard result.succeeded else {
            throw LabError("'\(argv.joined(separator: " "))' in \(node) failed: \(oneLine(SystemError(result.stderr.isEmpty ? result.stdout : result.stderr)))")
        }
        return result.stdout
    }

    /// Waits until `node` pings `address` (the tunnel is up), or fails naming the log.
    func awaitPing(_ node: String, _ address: String, timeout: Duration, log: String, pids: [Int32]) throws {
        let up = pollUntil(timeout, every: .milliseconds(200)) {
            (try? lab.exec(node, ["ping", "-n", "-c1", "-W1", address], timeout: .seconds(3)).succeeded) == true
        }
        guard up else {
            pids.forEach { Daemon.stop($0) }
            throw LabError("\(node) cannot reach \(address) within \(timeout) (see \(directory)/\(log): \(Daemon.lastLine(of: "\(directory)/\(log)") ?? "empty"))")
        }
    }

    func write(_ text: String, _ name: String) throws -> String {
        let path = "\(directory)/\(name)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// One process each on the master (the hub), a1 and b1, in that order.
    func hubAndWorkers(_ name: String, hub: String, _ pids: [Int32]) -> [WatchedProcess] {
        zip(["master", "a1", "b1"], pids).map { node, pid in
            WatchedProcess(node: node, name: node == "master" ? hub : name, pid: pid, isHub: node == "master")
        }
    }

    func forwarding(on node: String) throws {
        try run(node, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
    }

    // MARK: - OpenVPN (the paper's tunnel)

    /// Two static-key point-to-point tunnels over TCP, as the paper set OpenVPN up: a1 and b1
    /// each connect to their own server instance on the master (ports P and P + 1; the bench
    /// publishes P + 1 at the crisis router), and the master routes between them.
    func openVPN() throws -> PeerSession {
        let key = "\(directory)/openvpn.key"
        _ = try HostCommandRunner().check(["openvpn", "--genkey", "secret", key])
        let second = port + 1
        try publish(tcpPort: second)
        try forwarding(on: "master")
        func instance(_ index: Int, lport: Int) -> [String] {
            ["openvpn", "--dev", "\(lab.prefix)ov\(index)", "--dev-type", "tun", "--proto", "tcp-server", "--lport", String(lport),
             "--secret", key, "--cipher", "AES-256-CBC", "--auth", "SHA256", "--ifconfig", "10.77.\(index).1", "10.77.\(index).2", "--verb", "1"]
        }
        func client(_ index: Int, rport: Int) -> [String] {
            ["openvpn", "--dev", "\(lab.prefix)ov\(index)", "--dev-type", "tun", "--proto", "tcp-client", "--remote", publicAddress, String(rport),
             "--secret", key, "--cipher", "AES-256-CBC", "--auth", "SHA256", "--ifconfig", "10.77.\(index).2", "10.77.\(index).1", "--verb", "1"]
        }
        var pids: [Int32] = []
        pids.append(try start("master", instance(1, lport: port), log: "openvpn-master-1.log"))
        pids.append(try start("master", instance(2, lport: second), log: "openvpn-master-2.log"))
        pids.append(try start("a1", client(1, rport: port), log: "openvpn-a1.log"))
        pids.append(try start("b1", client(2, rport: second), log: "openvpn-b1.log"))
        try awaitPing("a1", "10.77.1.1", timeout: .seconds(20), log: "openvpn-a1.log", pids: pids)
        try awaitPing("b1", "10.77.2.1", timeout: .seconds(20), log: "openvpn-b1.log", pids: pids)
        try run("a1", ["ip", "route", "replace", "10.77.2.0/24", "dev", "\(lab.prefix)ov1"])
        try run("b1", ["ip", "route", "replace", "10.77.1.0/24", "dev", "\(lab.prefix)ov2"])
        try awaitPing("a1", "10.77.2.2", timeout: .seconds(5), log: "openvpn-a1.log", pids: pids)
        let processes = [
            WatchedProcess(node: "master", name: "openvpn (server for a1)", pid: pids[0], isHub: true),
            WatchedProcess(node: "master", name: "openvpn (server for b1)", pid: pids[1], isHub: true),
            WatchedProcess(node: "a1", name: "openvpn (client)", pid: pids[2], isHub: false),
            WatchedProcess(node: "b1", name: "openvpn (client)", pid: pids[3], isHub: false),
        ]
        return PeerSession(peer: .openvpn, master: "10.77.1.1", masterPort: 5201, worker: "10.77.2.2",
                           workerPath: "through the hub (two point-to-point tunnels, routed by the master)", processes: processes) {
            pids.forEach { Daemon.stop($0) }
        }
    }

    /// Publishes one more TCP port of the master at the crisis router (added to the lab's own
    /// router table; it goes with the lab).
    func publish(tcpPort: Int) throws {
        guard let master = try lab.node("master").lanAddress, let router = lab.topology.node("crisis-r") else { return }
        let rule = "add rule inet \(LabAddressPlan.routerTable) prerouting ip daddr \(publicAddress) tcp dport \(tcpPort) dnat ip to \(master)\n"
        try run(router.id, ["nft", "-f", "-"], input: rule)
    }

    // MARK: - Nebula

    /// A lighthouse on the master (also the relay), a1 and b1 as nodes. Nebula finds direct
    /// paths through NAT (both ends send handshakes at once), so that a1 → b1 goes through the
    /// master's relay like the other tunnels' hub, the WAN drops companyA ↔ companyB traffic
    /// while Nebula runs (a table of the lab's own in its WAN namespace).
    func nebula() throws -> PeerSession {
        try isolateWorkerDomains()
        let dir = directory + "/nebula"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let cert = HostCommandRunner()
        _ = try cert.check(["nebula-cert", "ca", "-name", "fuse-lab bench", "-out-crt", "\(dir)/ca.crt", "-out-key", "\(dir)/ca.key"])
        let nodes = [("master", "10.78.0.1"), ("a1", "10.78.0.2"), ("b1", "10.78.0.3")]
        var pids: [Int32] = []
        for (node, address) in nodes {
            _ = try cert.check(["nebula-cert", "sign", "-name", node, "-ip", "\(address)/24", "-ca-crt", "\(dir)/ca.crt", "-ca-key", "\(dir)/ca.key",
                                "-out-crt", "\(dir)/\(node).crt", "-out-key", "\(dir)/\(node).key"])
            let lighthouse = node == "master"
            let config = """
                pki:
                  ca: \(dir)/ca.crt
                  cert: \(dir)/\(node).crt
                  key: \(dir)/\(node).key
                static_host_map:
                  "10.78.0.1": ["\(publicAddress):\(port)"]
                lighthouse:
                  am_lighthouse: \(lighthouse)
                  interval: 60
                  hosts: [\(lighthouse ? "" : "\"10.78.0.1\"")]
                listen:
                  host: 0.0.0.0
                  port: \(lighthouse ? port : 0)
                punchy:
                  punch: false
                  respond: false
                relay:
                  am_relay: \(lighthouse)
                  use_relays: true
                  relays: [\(lighthouse ? "" : "\"10.78.0.1\"")]
                tun:
                  dev: \(lab.prefix)neb
                  mtu: 1300
                logging:
                  level: warning
                firewall:
                  outbound: [{port: any, proto: any, host: any}]
                  inbound: [{port: any, proto: any, host: any}]
                """
            let file = try write(config, "nebula/\(node).yml")
            pids.append(try start(node, ["nebula", "-config", file], log: "nebula-\(node).log"))
        }
        try awaitPing("a1", "10.78.0.1", timeout: .seconds(20), log: "nebula-a1.log", pids: pids)
        try awaitPing("b1", "10.78.0.1", timeout: .seconds(20), log: "nebula-b1.log", pids: pids)
        try awaitPing("a1", "10.78.0.3", timeout: .seconds(30), log: "nebula-a1.log", pids: pids)
        return PeerSession(peer: .nebula, master: "10.78.0.1", masterPort: 5201, worker: "10.78.0.3",
                           workerPath: "through the master's relay (the WAN drops direct companyA ↔ companyB packets)",
                           processes: hubAndWorkers("nebula", hub: "nebula (lighthouse, relay)", pids)) {
            pids.forEach { Daemon.stop($0) }
            _ = try? self.run("wan", ["nft", "delete", "table", "inet", Self.isolationTable])
        }
    }

    static let isolationTable = "fuselab-bench"

    /// Drops forwarded packets between the two worker domains' routers in the WAN namespace.
    func isolateWorkerDomains() throws {
        guard let a = lab.topology.domain("companyA"), let b = lab.topology.domain("companyB") else { return }
        try run("wan", ["nft", "-f", "-"], input: """
            table inet \(Self.isolationTable) {
            \tchain forward {
            \t\ttype filter hook forward priority filter; policy accept;
            \t\tip saddr \(a.linkSubnet) ip daddr \(b.linkSubnet) drop
            \t\tip saddr \(b.linkSubnet) ip daddr \(a.linkSubnet) drop
            \t}
            }

            """)
    }

    // MARK: - Plain wireguard-go

    /// wireguard-go on the three nodes, set up with `wg`: the master is the hub (peers a1 and
    /// b1, forwarding on), as in FUSE but without FUSE.
    func wireGuardGo() throws -> PeerSession {
        let nodes = [("master", "10.79.0.1", "\(lab.prefix)pwgm"), ("a1", "10.79.0.2", "\(lab.prefix)pwga"), ("b1", "10.79.0.3", "\(lab.prefix)pwgb")]
        let host = HostCommandRunner()
        var keys: [String: (file: String, publicKey: String)] = [:]
        for (node, _, _) in nodes {
            let secret = try host.check(["wg", "genkey"]).trimmingCharacters(in: .whitespacesAndNewlines)
            let file = try write(secret + "\n", "wg-\(node).key")
            chmod(file, 0o600)
            keys[node] = (file, try host.check(["wg", "pubkey"], input: secret + "\n").trimmingCharacters(in: .whitespacesAndNewlines))
        }
        try forwarding(on: "master")
        var pids: [Int32] = []
        for (node, address, interface) in nodes {
            let pid = try start(node, ["wireguard-go", interface], log: "wireguard-go-\(node).log", environment: ["WG_PROCESS_FOREGROUND": "1"])
            pids.append(pid)
            guard pollUntil(.seconds(5), { FileManager.default.fileExists(atPath: "\(LabAddressPlan.wireGuardSocketRoot)/\(interface).sock") }) else {
                pids.forEach { Daemon.stop($0) }
                throw LabError("wireguard-go \(interface) in \(node) made no UAPI socket within 5 s")
            }
            var argv = ["wg", "set", interface, "private-key", keys[node]?.file ?? ""]
            if node == "master" {
                argv += ["listen-port", String(port)]
                for (peer, peerAddress, _) in nodes where peer != "master" {
                    argv += ["peer", keys[peer]?.publicKey ?? "", "allowed-ips", "\(peerAddress)/32"]
                }
            } else {
                argv += ["peer", keys["master"]?.publicKey ?? "", "endpoint", "\(publicAddress):\(port)", "allowed-ips", "10.79.0.0/24",
                         "persistent-keepalive", "25"]
            }
            try run(node, argv)
            try run(node, ["ip", "addr", "add", "\(address)/24", "dev", interface])
            try run(node, ["ip", "link", "set", interface, "mtu", "1420", "up"])
        }
        try awaitPing("a1", "10.79.0.1", timeout: .seconds(10), log: "wireguard-go-a1.log", pids: pids)
        try awaitPing("a1", "10.79.0.3", timeout: .seconds(10), log: "wireguard-go-a1.log", pids: pids)
        return PeerSession(peer: .wireguardGo, master: "10.79.0.1", masterPort: 5201, worker: "10.79.0.3",
                           workerPath: "through the hub", processes: hubAndWorkers("wireguard-go", hub: "wireguard-go (hub)", pids)) {
            pids.forEach { Daemon.stop($0) }
        }
    }

    // MARK: - FUSE

    /// A FUSE federation without workloads (the tunnel is what is measured): master, a1 and b1
    /// joined, a policy that lets iperf3 through.
    func fuse() throws -> PeerSession {
        func fuse(_ node: String, _ args: [String], input: String? = nil) throws -> String {
            let result = try lab.exec(node, [fusePath] + args, input: input, timeout: .seconds(120))
            guard result.succeeded else { throw LabError("'fuse \(args.first ?? "")' in \(node) failed: \(oneLine(SystemError(result.stderr)))") }
            return result.stdout
        }
        _ = try fuse("master", ["master", "init", "--name", "bench", "--domain", "crisis", "--endpoint", publicAddress,
                                "--api-port", String(lab.apiPort), "--wg-port", String(lab.wgPort), "--no-workloads"])
        _ = try fuse("master", ["master", "start"])
        _ = try fuse("master", ["policy", "set", "-"], input: LabPolicy.open)
        var addresses: [String: String] = [:]
        for (node, domain) in [("a1", "companyA"), ("b1", "companyB")] {
            let token = try API.decoder().decode(API.TokenCreateResponse.self, from: Data(try fuse("master", ["token", "create", "--domain", domain, "--json"]).utf8))
            let joined = try JoinReport.decode(try fuse(node, ["join", "-", "--name", node, "--no-workloads", "--json"], input: token.join))
            addresses[node] = joined.host
        }
        let master = try lab.node("master"), a1 = try lab.node("a1"), b1 = try lab.node("b1")
        func pid(_ node: LabNode, _ file: String) throws -> Int32 {
            guard let dir = node.stateDir, let pid = Daemon.pid(inFile: "\(dir)/\(file)") else { throw LabError("no pid in \(node.id)'s \(file)") }
            return pid
        }
        let processes = [
            WatchedProcess(node: "master", name: "wireguard-go (hub)", pid: try pid(master, "node/wireguard.pid"), isHub: true),
            WatchedProcess(node: "master", name: "fuse master run", pid: try pid(master, "master/master.pid"), isHub: true),
            WatchedProcess(node: "a1", name: "wireguard-go", pid: try pid(a1, "node/wireguard.pid"), isHub: false),
            WatchedProcess(node: "a1", name: "fuse agent run", pid: try pid(a1, "node/agent.pid"), isHub: false),
            WatchedProcess(node: "b1", name: "wireguard-go", pid: try pid(b1, "node/wireguard.pid"), isHub: false),
            WatchedProcess(node: "b1", name: "fuse agent run", pid: try pid(b1, "node/agent.pid"), isHub: false),
        ]
        let masterAddress = try IPv4CIDR(parsing: "100.64.0.0/16").firstHost?.description ?? "100.64.0.1"
        try awaitPing("a1", addresses["b1"] ?? "", timeout: .seconds(10), log: "fuse.log", pids: [])
        return PeerSession(peer: .fuse, master: masterAddress, masterPort: 5201, worker: addresses["b1"],
                           workerPath: "through the hub", processes: processes) {
            for node in ["a1", "b1"] { _ = try? fuse(node, ["leave"]) }
            _ = try? fuse("master", ["master", "destroy"])
        }
    }
}
