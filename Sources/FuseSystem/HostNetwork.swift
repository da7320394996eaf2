import Foundation
import FuseModel
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Links, addresses and sysctls of the current network namespace, through `ip` and /proc.
/// Every method is idempotent. Requires root.
public struct HostNetwork: Sendable {
    let runner: any CommandRunning

    public init(runner: any CommandRunning = HostCommandRunner()) {
        self.runner = runner
    }

    public func linkExists(_ name: String) -> Bool {
        runner.succeeds(["ip", "link", "show", "dev", name])
    }

    /// IPv4 addresses on a link, as `A.B.C.D/N`.
    public func addresses(of link: String) throws -> [String] {
        let json = try runner.check(["ip", "-j", "-4", "addr", "show", "dev", link])
        guard let entries = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] else { return [] }
        return entries.flatMap { ($0["addr_info"] as? [[String: Any]]) ?? [] }.compactMap { info in
            guard let local = info["local"] as? String, let prefix = info["prefixlen"] as? Int else { return nil }
            return "\(local)/\(prefix)"
        }
    }

    /// Every IPv4 address of this namespace with its link and connected subnet.
    public func localAddresses() throws -> [LocalAddress] {
        let json = try runner.check(["ip", "-j", "-4", "addr", "show"])
        guard let entries = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] else { return [] }
        return entries.flatMap { entry -> [LocalAddress] in
            guard let link = entry["ifname"] as? String else { return [] }
            return ((entry["addr_info"] as? [[String: Any]]) ?? []).compactMap { info in
                guard let local = (info["local"] as? String).flatMap(IPv4Address.init), let prefix = info["prefixlen"] as? Int,
                      (0...32).contains(prefix) else { return nil }
                return LocalAddress(link: link, address: local, subnet: IPv4CIDR(network: local, prefixLength: prefix))
            }
        }
    }

    /// Gives the link exactly this one IPv4 address (with its connected route) and brings it up.
    public func configure(link: String, address: String, mtu: Int) throws {
        let current = try addresses(of: link)
        if current != [address] {
            if !current.isEmpty { try runner.check(["ip", "-4", "addr", "flush", "dev", link]) }
            try runner.check(["ip", "addr", "add", address, "dev", link])
        }
        try runner.check(["ip", "link", "set", "dev", link, "mtu", String(mtu), "up"])
    }

    public func deleteLink(_ name: String) throws {
        if linkExists(name) { try runner.check(["ip", "link", "delete", "dev", name]) }
    }
}

/// An address of this host, on `link`, in `subnet`.
public struct LocalAddress: Equatable, Sendable {
    public let link: String
    public let address: IPv4Address
    public let subnet: IPv4CIDR

    public init(link: String, address: IPv4Address, subnet: IPv4CIDR) {
        self.link = link
        self.address = address
        self.subnet = subnet
    }
}

/// Reads and writes sysctls of the current network namespace (/proc/sys).
public struct Sysctl: Sendable {
    public init() {}

    static func path(_ key: String) -> String { "/proc/sys/" + key.replacingOccurrences(of: ".", with: "/") }

    public func get(_ key: String) throws -> String {
        do {
            return try String(contentsOfFile: Self.path(key), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw SystemError("cannot read sysctl \(key): \(error.localizedDescription)")
        }
    }

    public func set(_ key: String, _ value: String) throws {
        guard let handle = FileHandle(forWritingAtPath: Self.path(key)) else { throw SystemError("cannot write sysctl \(key) (are you root?)") }
        defer { try? handle.close() }
        try handle.write(contentsOf: Data((value + "\n").utf8))
    }
}

/// Checks whether a local port can be bound, so that commands fail early and clearly.
public enum PortProbe {
    public enum Kind { case tcp, udp }

    public static func isFree(_ port: UInt16, _ kind: Kind) -> Bool {
        let fd = socket(AF_INET, Int32(kind == .tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        return (try? SocketAddress(ipAddress: "0.0.0.0", port: Int(port)))?.withSockAddr { bind(fd, $0, socklen_t($1)) } == 0
    }

    /// A TCP port that nothing is bound to now (for tests that start servers on loopback).
    public static func freeTCPPort() throws -> UInt16 {
        for _ in 0..<50 {
            let port = UInt16.random(in: 20_000...60_000)
            if isFree(port, .tcp) { return port }
        }
        throw SystemError("no free TCP port found")
    }

    /// Whether something accepts TCP connections at `host:port` (meant for local addresses:
    /// the connect blocks until the peer answers or refuses).
    public static func tcpOpen(host: String, port: UInt16) -> Bool {
        guard let ip = IPv4Address(host) else { return false }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return (try? SocketAddress(ipAddress: ip.description, port: Int(port)))?.withSockAddr { connect(fd, $0, socklen_t($1)) } == 0
    }
}

/// Resolves `host:port` to `IPv4:port` for WireGuard, which takes addresses only.
public enum EndpointResolver {
    public static func resolve(_ endpoint: String) -> String? {
        guard let colon = endpoint.lastIndex(of: ":") else { return nil }
        let host = String(endpoint[..<colon]), port = endpoint[endpoint.index(after: colon)...]
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        guard let sockaddrPointer = first.pointee.ai_addr else { return nil }
        let address = sockaddrPointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        var copy = address
        guard inet_ntop(AF_INET, &copy, &text, socklen_t(INET_ADDRSTRLEN)) != nil else { return nil }
        return "\(String(cString: text)):\(port)"
    }
}
