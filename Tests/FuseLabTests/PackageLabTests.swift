import Foundation
import FuseLab
import FuseModel
import FuseSystem
import Testing

/// The release package of this commit, from `scripts/package`. A release build of the whole
/// package takes long on 2 cores, so the test runs when a package of this commit exists (run
/// `scripts/package` first) or FUSE_TEST_PACKAGE=1 asks for it (then it builds one).
enum ReleasePackage {
    static var wanted: Bool {
        ProcessInfo.processInfo.environment["FUSE_TEST_PACKAGE"] == "1" || ((try? built(commit: commit)) ?? nil) != nil
    }

    static let output = LabSupport.packageRoot.appendingPathComponent(".build/package/out").path
    static let runner = HostCommandRunner(timeout: .seconds(600))

    static var commit: String {
        get throws {
            try runner.check(["git", "-C", LabSupport.packageRoot.path, "rev-parse", "--short=12", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// The .deb built from HEAD; builds it when there is none.
    static func deb() throws -> String {
        let head = try Self.commit
        if let deb = try built(commit: head) { return deb }
        let result = try HostCommandRunner(timeout: .seconds(5400)).run([LabSupport.packageRoot.path + "/scripts/package"], input: nil, environment: nil)
        guard result.succeeded, let deb = try built(commit: head) else {
            throw SystemError("scripts/package failed: \(result.stderr.split(separator: "\n").suffix(3).joined(separator: " "))")
        }
        return deb
    }

    static func built(commit: String) throws -> String? {
        let binary = output + "/fuse"
        guard FileManager.default.isExecutableFile(atPath: binary),
              (try? runner.check([binary, "--version"]))?.contains("(commit \(commit))") == true else { return nil }
        let debs = (try? FileManager.default.contentsOfDirectory(atPath: output))?.filter { $0.hasPrefix("fuse-federation_") && $0.hasSuffix(".deb") } ?? []
        return debs.count == 1 ? output + "/" + debs[0] : nil
    }

    /// The toolchain's root (`/opt/swift` for `/opt/swift/usr/bin/swift`): what the test hides.
    /// Found from the Swift runtime this test process runs on (`swift test` may not put the
    /// toolchain on PATH): `ROOT/usr/lib/swift/linux/libswiftCore.so`.
    static var toolchain: String {
        get throws {
            let maps = ProcFile.text("/proc/self/maps") ?? ""
            guard let line = maps.split(separator: "\n").first(where: { $0.hasSuffix("/libswiftCore.so") }),
                  let path = line.split(separator: " ").last.map(String.init)
            else { throw SystemError("this test process runs on no libswiftCore.so (/proc/self/maps)") }
            var root = URL(fileURLWithPath: path).resolvingSymlinksInPath()
            for _ in 0..<5 { root = root.deletingLastPathComponent() }
            return root.path
        }
    }

    /// A script that runs `binary` with the toolchain's directory hidden: an empty tmpfs over it,
    /// in a private mount namespace (which every process it starts inherits).
    static func withoutToolchain(_ binary: String, toolchain: String) -> String {
        """
        #!/bin/sh
        exec unshare --mount --propagation private sh -c 'mount -t tmpfs fuse-no-toolchain "$1" && shift && exec "$@"' sh \(shellQuote(toolchain)) \(shellQuote(binary)) "$@"

        """
    }
}

extension LabTests {
    @Suite("Package lab", .serialized, .enabled(if: ReleasePackage.wanted, "no package of this commit: run scripts/package first, or set FUSE_TEST_PACKAGE=1"))
    struct PackageLabTests {
        @Test("the packaged fuse runs without the Swift toolchain: --version, a master and a join across the lab; the .deb installs and purges cleanly")
        func packagedFuseWithoutToolchain() throws {
            let deb = try ReleasePackage.deb()
            let runner = ReleasePackage.runner
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("fuse-package-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: scratch) }

            // What the package says and holds.
            let info = try runner.check(["dpkg-deb", "--info", deb])
            #expect(info.contains(" Package: fuse-federation\n"), "\(info)")
            #expect(info.contains("wireguard-go | wireguard-tools, nftables, iproute2\n") && info.contains(" Recommends: docker.io\n"), "\(info)")
            let contents = try runner.check(["dpkg-deb", "--contents", deb])
            for path in ["./usr/bin/fuse", "./lib/systemd/system/fuse-agent.service", "./lib/systemd/system/fuse-master.service", "./usr/share/man/man1/fuse.1.gz"] {
                #expect(contents.contains(" \(path)\n"), "\(path) is in the package")
            }
            try runner.check(["dpkg-deb", "-x", deb, scratch + "/files"])
            let binary = scratch + "/files/usr/bin/fuse"
            #expect(!(try runner.check(["ldd", binary])).contains("swift"), "no Swift library is loaded from outside the binary")
            let manPage = try runner.check(["sh", "-c", "zcat \(shellQuote(scratch + "/files/usr/share/man/man1/fuse.1.gz"))"])
            #expect(manPage.contains(".SS fuse join") && manPage.contains(".SS fuse master"), "the man page holds every command's --help")

            // Hidden toolchain: the debug build (linked to it) cannot start; the packaged one can.
            let toolchain = try ReleasePackage.toolchain
            let hidden = scratch + "/fuse"
            try ReleasePackage.withoutToolchain(binary, toolchain: toolchain).write(toFile: hidden, atomically: true, encoding: .utf8)
            chmod(hidden, 0o755)
            let debugHidden = scratch + "/fuse-debug"
            try ReleasePackage.withoutToolchain(LabSupport.fuseBinary, toolchain: toolchain).write(toFile: debugHidden, atomically: true, encoding: .utf8)
            chmod(debugHidden, 0o755)
            let debug = try runner.run([debugHidden, "--version"], input: nil, environment: nil)
            #expect(debug.status != 0 && debug.stderr.contains("libswift"), "hiding \(toolchain) hides the Swift runtime: \(debug.stderr)")
            let version = try runner.check([hidden, "--version"])
            let head = try ReleasePackage.commit
            #expect(version.hasPrefix("fuse ") && version.hasSuffix(" (commit \(head))\n"), "\(version)")

            // A master and a node of another domain, both the packaged binary without the toolchain.
            let fixture = try LabFixture(fuse: hidden)
            defer { fixture.close() }
            try fixture.fuseOK("master", ["master", "init", "--name", "labfed", "--domain", "crisis", "--endpoint", fixture.lab.masterEndpoint,
                                          "--api-port", String(fixture.lab.apiPort), "--wg-port", String(fixture.lab.wgPort), "--no-workloads"])
            try fixture.fuseOK("master", ["master", "start"])
            try fixture.setPolicy(LabPolicy.ping)
            try fixture.fuseOK("a1", ["join", try fixture.token(domain: "companyA"), "--name", "a1", "--no-workloads"])
            #expect(try fixture.ping(from: "a1", to: "100.64.0.1"), "a1 reaches the master over the tunnel")
            let stateDir = try fixture.stateDir("a1")
            let agent = try #require(NodeDaemonLabTests.daemons(stateDir: stateDir).first, "a1's daemon runs")
            // (ProcFile: Foundation reads nothing of /proc files, whose size is 0.)
            let mounts = ProcFile.text("/proc/\(agent)/mountinfo") ?? ""
            #expect(mounts.contains(" \(toolchain) ") && mounts.contains("fuse-no-toolchain"), "the daemon runs with \(toolchain) hidden")
            let maps = ProcFile.text("/proc/\(agent)/maps") ?? ""
            #expect(maps.contains("/fuse") && !maps.contains(toolchain + "/"), "the daemon maps nothing of the toolchain")
            try fixture.fuseOK("a1", ["leave"])
            try fixture.fuseOK("master", ["master", "destroy"])

            // The .deb into a throwaway dpkg root (this host's own package database is not touched).
            #expect(!runner.succeeds(["dpkg-query", "-W", "fuse-federation"]), "the host itself has no fuse-federation")
            let root = scratch + "/dpkg-root"
            for directory in ["info", "updates", "triggers"] {
                try FileManager.default.createDirectory(atPath: root + "/var/lib/dpkg/" + directory, withIntermediateDirectories: true)
            }
            #expect(FileManager.default.createFile(atPath: root + "/var/lib/dpkg/status", contents: nil))
            // Its Depends are this host's packages, not the throwaway root's.
            try runner.check(["dpkg", "--root=" + root, "--force-depends", "--install", deb])
            #expect(try runner.check(["dpkg", "--root=" + root, "--status", "fuse-federation"]).contains("Status: install ok installed"))
            #expect(try runner.check([root + "/usr/bin/fuse", "--version"]) == version)
            try runner.check(["dpkg", "--root=" + root, "--purge", "fuse-federation"])
            let left = try runner.check(["find", root, "-mindepth", "1", "-not", "-path", root + "/var/lib/dpkg*", "-not", "-path", root + "/var", "-not", "-path", root + "/var/lib"])
            #expect(left.isEmpty, "the purge leaves nothing: \(left)")
            #expect(!runner.succeeds(["dpkg-query", "-W", "fuse-federation"]), "the host's package database is unchanged")
        }
    }
}
