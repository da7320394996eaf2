import Foundation

/// A systemd unit that runs one of FUSE's daemons: the node daemon (`fuse agent run`) or the
/// master (`fuse master run`), for one state dir. Rendered by a pure function so that tests
/// compare the text exactly; `fuse join` / `fuse master start` install it where systemd runs
/// the host, and the package ships the ones for the default state dir.
public struct ServiceUnit: Equatable, Sendable {
    public enum Role: String, Sendable {
        case agent, master
    }

    public let role: Role
    /// The `fuse` binary the unit starts (absolute).
    public let executable: String
    /// The state dir the daemon owns (absolute).
    public let stateDir: String
    /// `FUSE_*` settings of the command that installs the unit (e.g. `FUSE_WIREGUARD_GO`), so
    /// that the daemon runs as it would have run from that command.
    public let environment: [String: String]

    public static let defaultStateDir = "/var/lib/fuse"

    public init(role: Role, executable: String, stateDir: String, environment: [String: String] = [:]) {
        self.role = role
        self.executable = executable
        self.stateDir = stateDir
        self.environment = environment
    }

    /// `fuse-agent.service` / `fuse-master.service` for the default state dir; other state dirs
    /// (several nodes on one host) get the path escaped as systemd does (`systemd-escape --path`).
    public var name: String {
        let base = "fuse-\(role.rawValue)"
        let trimmed = Self.trimmedPath(stateDir)
        return trimmed == Self.trimmedPath(Self.defaultStateDir) ? "\(base).service" : "\(base)-\(Self.escapedPath(stateDir)).service"
    }

    public var text: String {
        let (what, command) = role == .agent ? ("node daemon", "agent run") : ("master (control plane and hub)", "master run")
        let environment = self.environment.sorted { $0.key < $1.key }.map { "Environment=\(Self.quoted("\($0.key)=\($0.value)"))\n" }.joined()
        return """
            # `fuse \(role == .agent ? "join" : "master start")` installs and enables this unit; `fuse \(role == .agent ? "leave" : "master stop|destroy")` disables and removes it.
            [Unit]
            Description=FUSE \(what) for \(stateDir)
            Documentation=man:fuse(1)
            Wants=network-online.target
            # The host's own Docker (if any) rewrites its firewall chains when it starts: come up after it.
            After=network-online.target docker.service

            [Service]
            Type=simple
            \(environment)ExecStart=\(Self.quoted(executable)) \(command) --state-dir \(Self.quoted(stateDir))
            Restart=on-failure
            RestartSec=1s
            # The daemon's wireguard-go and container engine outlive a restart of the daemon, so that
            # tunnels and containers stay up while it restarts; `fuse \(role == .agent ? "leave" : "master destroy")` removes them.
            KillMode=process
            TimeoutStopSec=30s
            # Hardening that the node's own container engine tolerates: a mount, seccomp or
            # capability restriction here would be inherited by every container it runs.
            Delegate=yes
            TasksMax=infinity
            LimitNOFILE=1048576
            OOMScoreAdjust=-500
            UMask=0022

            [Install]
            WantedBy=multi-user.target

            """
    }

    /// systemd-escape --path: no leading or trailing slash, `/` becomes `-`, and every byte
    /// outside `[A-Za-z0-9:_.]` (and a leading `.`) becomes `\xNN`.
    static func escapedPath(_ path: String) -> String {
        let trimmed = trimmedPath(path)
        guard !trimmed.isEmpty else { return "-" }
        var out = ""
        for (index, byte) in trimmed.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "/"): out += "-"
            case UInt8(ascii: "."): out += index == 0 ? "\\x2e" : "."
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: ":"), UInt8(ascii: "_"):
                out += String(UnicodeScalar(byte))
            default:
                out += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
            }
        }
        return out
    }

    private static func trimmedPath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
    }

    /// A command-line word for systemd: quoted when it holds a space or a quote; `%` and `$` doubled
    /// so that systemd takes them literally.
    static func quoted(_ word: String) -> String {
        let literal = word.replacingOccurrences(of: "%", with: "%%").replacingOccurrences(of: "$", with: "$$")
        guard literal.contains(where: { $0 == " " || $0 == "\"" || $0 == "\\" || $0 == "'" }) else { return literal }
        return "\"" + literal.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
