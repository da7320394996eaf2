import Foundation
import FuseModel
#if canImport(Glibc)
import Glibc
#endif

/// A WireGuard implementation on the host: userspace (`wireguard-go` over UAPI) or the
/// kernel's (`ip link add type wireguard` + `wg`). Requires root.
public protocol WireGuardBackend: Sendable {
    var interface: String { get }
    /// Brings the device up if it is not; returns the PID of a process it started, if any.
    func ensureRunning(logFile: String) throws -> pid_t?
    func read() throws -> WireGuardDevice
    /// Changes only what differs between `current` and `desired`.
    func apply(desired: WireGuardDevice, current: WireGuardDevice) throws -> Bool
    /// Each peer's traffic counters and handshake.
    func peerStats() throws -> [WireGuardPeerStats]
}

extension UserspaceWireGuard: WireGuardBackend {
    public func read() throws -> WireGuardDevice { try WireGuardUAPI.parseGet(get()) }
    public func peerStats() throws -> [WireGuardPeerStats] { WireGuardPeerStats.parse(try get()) }

    public func apply(desired: WireGuardDevice, current: WireGuardDevice) throws -> Bool {
        guard let request = WireGuardUAPI.renderSet(desired: desired, current: current) else { return false }
        try WireGuardUAPI.parseSetAnswer(set(request))
        return true
    }
}

/// Kernel WireGuard, configured with the `wg` tool.
public struct KernelWireGuard: WireGuardBackend {
    public let interface: String
    let runner: any CommandRunning

    public init(interface: String, runner: any CommandRunning = HostCommandRunner()) {
        self.interface = interface
        self.runner = runner
    }

    /// Whether this host's kernel can make WireGuard links (tries once with a scratch link).
    public static func isAvailable(runner: any CommandRunning = HostCommandRunner()) -> Bool {
        let probe = "fusewgprobe\(getpid() % 10000)"
        guard runner.succeeds(["ip", "link", "add", probe, "type", "wireguard"]) else { return false }
        _ = runner.succeeds(["ip", "link", "delete", probe])
        return Executables.find("wg") != nil
    }

    public func ensureRunning(logFile: String) throws -> pid_t? {
        if !HostNetwork(runner: runner).linkExists(interface) {
            try runner.check(["ip", "link", "add", interface, "type", "wireguard"])
        }
        return nil
    }

    public func read() throws -> WireGuardDevice {
        try WireGuardCLI.parseDump(runner.check(["wg", "show", interface, "dump"]))
    }

    public func peerStats() throws -> [WireGuardPeerStats] {
        WireGuardPeerStats.parseDump(try runner.check(["wg", "show", interface, "dump"]))
    }

    public func apply(desired: WireGuardDevice, current: WireGuardDevice) throws -> Bool {
        guard let args = WireGuardCLI.renderSet(desired: desired, current: current) else { return false }
        try runner.check(["wg", "set", interface] + args, input: desired.privateKey.map { $0.base64 + "\n" })
        return true
    }
}

public enum WireGuardBackends {
    /// The backend for an interface: env FUSE_WIREGUARD=kernel|userspace|auto (default auto:
    /// the kernel's where the host has it, else wireguard-go).
    public static func choose(interface: String, runner: any CommandRunning = HostCommandRunner()) throws -> any WireGuardBackend {
        switch ProcessInfo.processInfo.environment["FUSE_WIREGUARD"] ?? "auto" {
        case "kernel": return KernelWireGuard(interface: interface, runner: runner)
        case "userspace": return UserspaceWireGuard(interface: interface)
        case "auto", "":
            if UserspaceWireGuard(interface: interface).isResponding { return UserspaceWireGuard(interface: interface) }
            if HostNetwork(runner: runner).linkExists(interface) || KernelWireGuard.isAvailable(runner: runner) {
                return KernelWireGuard(interface: interface, runner: runner)
            }
            return UserspaceWireGuard(interface: interface)
        case let other: throw SystemError("bad FUSE_WIREGUARD \"\(other)\": use kernel, userspace or auto")
        }
    }
}
