import Foundation
import FuseSystem

/// A tiny container image for labs, tests and demos, without the internet: a root file system
/// of Debian's static busybox (shell, httpd, wget, nc, sleep …) and a web page, as a tarball
/// for `fuse image import`.
public enum LabImage {
    public static let tools = ["sh", "httpd", "wget", "nc", "sleep", "cat", "echo", "ls", "ip", "nslookup", "hostname", "true"]

    /// Writes the tarball to `path`; `/www/index.html` holds `page`.
    public static func write(to path: String, page: String, runner: any CommandRunning = HostCommandRunner()) throws {
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
        try runner.check(["tar", "-C", root, "-cf", path, "."])
    }
}
