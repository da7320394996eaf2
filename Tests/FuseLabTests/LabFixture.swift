import Foundation
import FuseLab
import FuseModel
import FuseSystem
import Testing

/// Whether root-only lab tests can run here. Under CI (`CI=true`) they always run, so that a
/// missing capability is a failure, never a skip.
enum LabSupport {
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"
    static let hasPrerequisites = geteuid() == 0 && ["wireguard-go", "nft", "ip", "nsenter", "ping", "wg", "socat", "dig", "dockerd", "docker-registry", "busybox", "ffmpeg", "chromium", "chromedriver", "curl", "iperf3", "conntrack"].allSatisfy { Executables.find($0) != nil }
    static let enabled = isCI || hasPrerequisites
    static let reason: Comment = "lab tests need root and scripts/packages.txt installed (run scripts/test as root)"

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var fuseBinary: String { packageRoot.appendingPathComponent(".build/debug/fuse").path }
}

/// Every root-only lab suite, one after the other (labs are heavy on 2 cores, and their
/// tests block threads while commands run).
@Suite("Lab", .serialized, .enabled(if: LabSupport.enabled, LabSupport.reason))
struct LabTests {}

/// A lab with a unique prefix, a federation on it, and helpers to drive `fuse` inside its
/// namespaces. `close()` tears everything down; tests call it in `defer`.
final class LabFixture {
    let lab: Lab
    let fuse: String

    /// `fuse`: the binary the lab's nodes run (default: the debug build). `udpBlockedDomain`:
    /// also companyC (worker c1, LAN device sensor), whose router lets no UDP out. `apiPort`:
    /// the master's (default: a random one).
    init(fuse: String = LabSupport.fuseBinary, udpBlockedDomain: Bool = false, apiPort: Int? = nil) throws {
        self.fuse = fuse
        #expect(FileManager.default.isExecutableFile(atPath: fuse), "build the fuse binary first: swift build")
        let letters = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        let prefix = "t" + String((0..<3).map { _ in letters.randomElement() ?? "x" }) + "-"
        // Ports differ per lab so that a leftover of one run can never answer another.
        lab = try Lab.up(prefix: prefix, apiPort: apiPort ?? Int.random(in: 20000...29999), wgPort: Int.random(in: 30000...39999), udpBlockedDomain: udpBlockedDomain)
    }

    func close() { lab.down() }

    /// Runs `fuse ARGS` in a node's namespace (with its state dir and interface).
    @discardableResult
    func fuse(_ node: String, _ args: [String], environment: [String: String] = [:], input: String? = nil) throws -> CommandResult {
        try lab.exec(node, [fuse] + args, environment: environment, input: input, timeout: .seconds(150))
    }

    /// Like `fuse`, but records a test failure with stderr when the command fails.
    @discardableResult
    func fuseOK(_ node: String, _ args: [String], environment: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let result = try fuse(node, args, environment: environment)
        #expect(result.status == 0, "fuse \(args.joined(separator: " ")) on \(node) failed: \(result.stderr)", sourceLocation: sourceLocation)
        return result.stdout
    }

    func shell(_ node: String, _ script: String) throws -> CommandResult {
        try lab.exec(node, ["sh", "-c", script], timeout: .seconds(60))
    }

    func json<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try API.decoder().decode(type, from: Data(text.utf8))
    }

    /// `fuse master init` + `start` on the lab's master; with `policy`, sets it.
    func startMaster(cidr: String = "100.64.0.0/16", policy: String? = LabPolicy.ping) throws {
        try fuseOK("master", ["master", "init", "--name", "labfed", "--domain", "crisis", "--endpoint", lab.masterEndpoint,
                               "--api-port", String(lab.apiPort), "--wg-port", String(lab.wgPort), "--vpn-cidr", cidr])
        try fuseOK("master", ["master", "start"])
        if let policy { try setPolicy(policy) }
    }

    /// `fuse policy set -` with the policy on stdin.
    func setPolicy(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try fuse("master", ["policy", "set", "-"], input: text)
        #expect(result.status == 0, "fuse policy set: \(result.stderr)", sourceLocation: sourceLocation)
    }

    /// A scratch file in the lab's run directory (outside every node's state dir).
    func scratchFile(_ name: String, _ text: String) throws -> String {
        let path = lab.topology.runDirectory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func token(domain: String, uses: Int = 1) throws -> String {
        let created = try json(API.TokenCreateResponse.self, try fuseOK("master", ["token", "create", "--domain", domain, "--uses", String(uses), "--json"]))
        return created.join
    }

    struct Joined: Decodable {
        let name: String
        let address: String
        let seconds: Double
    }

    @discardableResult
    func join(_ node: String, domain: String, _ extra: [String] = [], environment: [String: String] = [:]) throws -> Joined {
        try json(Joined.self, try fuseOK(node, ["join", try token(domain: domain), "--name", node, "--json"] + extra, environment: environment))
    }

    func nodes() throws -> [API.NodeInfo] {
        try json([API.NodeInfo].self, try fuseOK("master", ["nodes", "--json"]))
    }

    func ping(from node: String, to address: String, count: Int = 1) throws -> Bool {
        try lab.exec(node, ["ping", "-n", "-q", "-c", String(count), "-W", "2", address], timeout: .seconds(30)).status == 0
    }

    /// PID from a pid file in the lab's state dirs.
    func pid(_ path: String) -> pid_t? {
        (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    func stateDir(_ node: String) throws -> String {
        try #require(try lab.node(node).stateDir)
    }

    /// Expects `node`'s host to be exactly as in `before` (a snapshot); names the lines that differ.
    func expectUnchanged(_ node: String, since before: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let after = try lab.snapshot(node)
        guard after != before else { return }
        let old = Set(before.split(separator: "\n")), new = Set(after.split(separator: "\n"))
        Issue.record("\(node) is not as before: gone \(old.subtracting(new).sorted()), new \(new.subtracting(old).sorted())", sourceLocation: sourceLocation)
    }

    /// An `nft list` answer as its words in order, to compare two tables: nft may list sets and
    /// their elements in any order.
    static func words(of listing: String) -> [String] {
        listing.split(whereSeparator: { $0.isWhitespace || $0 == "," }).map(String.init).sorted()
    }

    func interface(_ node: String) throws -> String {
        try #require(try lab.node(node).interface)
    }
}
