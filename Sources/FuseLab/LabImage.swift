import Foundation
import FuseModel
import FuseSystem

/// A tiny container image for labs, tests and demos, without the internet: a root file system
/// of Debian's static busybox (shell, httpd, wget, nc, sleep …) and a web page, as a tarball
/// for `fuse image import`.
public enum LabImage {
    public static let tools = ["sh", "httpd", "wget", "nc", "sleep", "cat", "echo", "ls", "ip", "nslookup", "hostname", "true"]

    /// Writes the tarball to `path`; `/www/index.html` holds `page`. `binaries` (host programs,
    /// e.g. curl) are copied with the shared libraries they load; `files` are added by path
    /// (executable).
    public static func write(to path: String, page: String, binaries: [String] = [], files: [String: String] = [:],
                             runner: any CommandRunning = HostCommandRunner()) throws {
        guard let busybox = ["/bin/busybox", "/usr/bin/busybox"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw LabError("busybox not found (Debian: apt-get install busybox-static)")
        }
        let root = path + ".rootfs"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fm = FileManager.default
        try? fm.removeItem(atPath: root)
        for folder in ["bin", "www", "tmp", "etc"] { try fm.createDirectory(atPath: "\(root)/\(folder)", withIntermediateDirectories: true) }
        try fm.copyItem(atPath: busybox, toPath: "\(root)/bin/busybox")
        for tool in tools { try fm.createSymbolicLink(atPath: "\(root)/bin/\(tool)", withDestinationPath: "busybox") }
        try Data(page.utf8).write(to: URL(fileURLWithPath: "\(root)/www/index.html"))
        for binary in binaries {
            guard let program = Executables.find(binary) else { throw LabError("\(binary) not found for the image") }
            try copyWithLibraries(program, into: root, runner: runner)
        }
        for (file, text) in files {
            try Data(text.utf8).write(to: URL(fileURLWithPath: root + file))
            try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: root + file)
        }
        try runner.check(["tar", "-C", root, "-cf", path, "."])
    }

    /// Copies a program and every library `ldd` names for it to the same paths under `root`.
    static func copyWithLibraries(_ program: String, into root: String, runner: any CommandRunning) throws {
        let libraries = try runner.check(["ldd", program]).split(separator: "\n").compactMap { line in
            line.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix("/") }.map(String.init)
        }
        for file in [program] + libraries {
            let target = root + file
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: target) {
                try FileManager.default.copyItem(atPath: URL(fileURLWithPath: file).resolvingSymlinksInPath().path, toPath: target)
            }
        }
    }
}

extension Lab {
    /// The docker client of a lab node's own engine (to look inside; FUSE's commands are what
    /// labs drive).
    public func engine(_ node: String) throws -> DockerCLI {
        guard let interface = try self.node(node).interface else { throw LabError("lab node \(node) runs no FUSE node") }
        return DockerCLI(socket: EngineNames(interface: interface).socket, configDirectory: topology.runDirectory + "/docker-cli")
    }

    /// Runs `command` in the container of a Swarm `service` (STACK_SERVICE) on a lab node's
    /// engine; killed after `timeout`.
    public func execInTask(_ node: String, service: String, _ command: [String], timeout: Duration = .seconds(8)) throws -> CommandResult {
        let engine = try engine(node)
        let ids = try engine.run(["ps", "-q", "--filter", "label=com.docker.swarm.service.name=\(service)"])
        guard let id = ids.split(separator: "\n").first.map(String.init) else { throw LabError("no \(service) container on \(node)") }
        return try HostCommandRunner(timeout: timeout).run(engine.argv(["exec", id] + command), input: nil, environment: nil)
    }
}
