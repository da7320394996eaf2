import Foundation
import FuseModel
#if canImport(Glibc)
import Glibc
#endif

/// Runs `wireguard-go` for one interface as a process of its own (it outlives the agent, so
/// that tunnels keep carrying traffic while the agent restarts) and drives it over UAPI.
/// Requires root and /dev/net/tun.
public struct UserspaceWireGuard: Sendable {
    public let interface: String
    let control: any WireGuardControl

    public init(interface: String, control: any WireGuardControl = UAPISocket()) {
        self.interface = interface
        self.control = control
    }

    public var socketPath: String { UAPISocket.path(for: interface) }

    /// The wireguard-go program: env FUSE_WIREGUARD_GO (a path or a name on PATH), else
    /// `wireguard-go`.
    public static var program: String {
        ProcessInfo.processInfo.environment["FUSE_WIREGUARD_GO"].flatMap { $0.isEmpty ? nil : $0 } ?? "wireguard-go"
    }

    /// Throws a clear error when wireguard-go cannot be found.
    public static func checkInstalled() throws {
        guard Executables.find(program) != nil else {
            throw SystemError("\(program) not found: install wireguard-go (apt-get install wireguard-go) or set FUSE_WIREGUARD_GO")
        }
    }

    /// Whether the device answers on its socket (an empty `set`, not a dump of its peers).
    public var isResponding: Bool {
        (try? control.exchange(interface: interface, request: WireGuardUAPI.probeRequest))?.contains("errno=0") ?? false
    }

    /// The UAPI socket path is global to the machine, not per network namespace: a device
    /// that answers on it while no such link exists here belongs to another namespace.
    public func checkNotForeign(network: HostNetwork = HostNetwork()) throws {
        if isResponding && !network.linkExists(interface) {
            throw SystemError("interface name \(interface) is taken by a WireGuard device in another network namespace (\(socketPath)); choose another --interface")
        }
    }

    /// Starts wireguard-go unless the device already answers; returns the PID it runs under
    /// (nil when a running device was found).
    public func ensureRunning(logFile: String) throws -> pid_t? {
        try checkNotForeign()
        if isResponding { return nil }
        try Self.checkInstalled()
        guard FileManager.default.fileExists(atPath: "/dev/net/tun") else {
            throw SystemError("/dev/net/tun is missing: this host cannot run userspace WireGuard")
        }
        // A stale socket from a killed process would make wireguard-go refuse to start.
        try? FileManager.default.removeItem(atPath: socketPath)
        return try Daemon.spawnAndWait([Self.program, interface], logFile: logFile, environment: [
            "WG_PROCESS_FOREGROUND": "1",
            // FUSE_WIREGUARD_LOG=verbose shows handshakes in wireguard.log (debugging).
            "LOG_LEVEL": ProcessInfo.processInfo.environment["FUSE_WIREGUARD_LOG"] ?? "error",
        ], timeout: .seconds(5), every: .milliseconds(10)) { isResponding }
    }

    public func get() throws -> String {
        try control.exchange(interface: interface, request: WireGuardUAPI.getRequest)
    }

    public func set(_ request: String) throws -> String {
        try control.exchange(interface: interface, request: request)
    }

    /// Stops the device: SIGTERM to its process (it removes its interface and socket), then
    /// removes whatever is left.
    public func stop(pid: pid_t?) {
        if let pid { Daemon.stop(pid) }
        // A socket that still answers belongs to a device of another namespace: not ours.
        if !isResponding { try? FileManager.default.removeItem(atPath: socketPath) }
    }
}
