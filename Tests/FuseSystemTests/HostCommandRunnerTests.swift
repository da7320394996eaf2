import Foundation
import FuseSystem
import Testing

@Suite struct HostCommandRunnerTests {
    @Test func capturesOutputStatusAndInput() throws {
        let result = try HostCommandRunner().run(["sh", "-c", "cat; echo out; echo err >&2; exit 3"], input: "in\n", environment: nil)
        #expect(result.status == 3)
        #expect(result.stdout == "in\nout\n")
        #expect(result.stderr == "err\n")
        #expect(!result.succeeded)
    }

    @Test func passesEnvironment() throws {
        let result = try HostCommandRunner().run(["sh", "-c", "echo $FUSE_INTERFACE"], input: nil, environment: ["FUSE_INTERFACE": "fl-a1"])
        #expect(result.stdout == "fl-a1\n")
        #expect(result.succeeded)
    }

    @Test func aDaemonKeepingTheOutputOpenDoesNotBlock() throws {
        let clock = ContinuousClock()
        let start = clock.now
        let result = try HostCommandRunner().run(["sh", "-c", "sleep 3 & echo started"], input: nil, environment: nil)
        #expect(result.stdout == "started\n")
        #expect(clock.now - start < .seconds(2))
    }

    @Test func timeoutKillsTheCommand() throws {
        let clock = ContinuousClock()
        let start = clock.now
        let result = try HostCommandRunner(timeout: .milliseconds(200)).run(["sh", "-c", "sleep 5"], input: nil, environment: nil)
        #expect(result.status == 124)
        #expect(clock.now - start < .seconds(3))
    }

    /// A child holds only its standard descriptors, however many this process has open (and
    /// whether or not they are close-on-exec).
    @Test func aChildInheritsOnlyItsStandardDescriptors() throws {
        let opened = (0..<200).map { _ in open("/dev/null", O_RDONLY) }
        defer { opened.forEach { close($0) } }
        #expect(opened.allSatisfy { $0 > 2 })
        // The shell lists its own descriptors: 0, 1, 2 and the one `ls` reads the folder with.
        let result = try HostCommandRunner().run(["sh", "-c", "ls /proc/self/fd"], input: nil, environment: nil)
        let listed = result.stdout.split(separator: "\n").compactMap { Int32($0) }
        #expect(result.succeeded)
        #expect(listed.filter { $0 > 3 }.isEmpty, "inherited: \(listed)")
        #expect(!listed.contains(opened[150]))
    }
}
