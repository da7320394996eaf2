import Foundation
import FuseLab
import FuseModel
import FuseSystem
import Testing

extension LabTests {
    /// WAN impairment in the lab, measured from outside: a1 (companyA) talks to the master over
    /// the federation's tunnel, whose datagrams cross companyA's impaired link. Root only.
    @Suite("Impairment lab", .serialized)
    struct ImpairmentLabTests {
        static let forwarder = [LabSupport.packageRoot.appendingPathComponent(".build/debug/fuse-lab").path, "impair-forward"]
        static let master = "100.64.0.1"

        /// A federation without workloads (quick), a1 joined, a policy that lets iperf3 through.
        static func federation() throws -> LabFixture {
            let fixture = try LabFixture()
            do {
                try fixture.fuseOK("master", ["master", "init", "--name", "imp", "--domain", "crisis", "--endpoint", fixture.lab.masterEndpoint,
                                              "--api-port", String(fixture.lab.apiPort), "--wg-port", String(fixture.lab.wgPort), "--no-workloads"])
                try fixture.fuseOK("master", ["master", "start"])
                try fixture.setPolicy(LabPolicy.open)
                try fixture.fuseOK("a1", ["join", try fixture.token(domain: "companyA"), "--name", "a1", "--no-workloads"])
            } catch {
                fixture.close()
                throw error
            }
            return fixture
        }

        /// Median round-trip time (ms) of `count` pings from a1 to the master's VPN address.
        static func medianRTT(_ fixture: LabFixture, count: Int = 20) throws -> Double {
            let result = try fixture.lab.exec("a1", ["ping", "-n", "-c", String(count), "-i", "0.05", "-W", "2", master], timeout: .seconds(30))
            let times = result.stdout.split(separator: "\n").compactMap { line -> Double? in
                guard let range = line.range(of: #"time=[0-9.]+"#, options: .regularExpression) else { return nil }
                return Double(line[range].dropFirst(5))
            }
            return try #require(Spread(times)?.median, "no ping answered: \(result.stdout) \(result.stderr)")
        }

        /// Runs iperf3 from a1 to a one-shot server on the master; its JSON report.
        /// One iperf3 run; asked once more when iperf3 itself fails (its control connection
        /// crosses the impaired link too, and once in a CI rehearsal it timed out under 5 %
        /// loss: "unable to read from stream socket"). What a run measured is never retried.
        static func iperf(_ fixture: LabFixture, _ arguments: [String]) throws -> IperfReport {
            do { return try iperfOnce(fixture, arguments) } catch {
                print("iperf3 failed (\(error)); running it once more")
                return try iperfOnce(fixture, arguments)
            }
        }

        static func iperfOnce(_ fixture: LabFixture, _ arguments: [String]) throws -> IperfReport {
            let server = try fixture.lab.execArguments("master", ["iperf3", "-s", "-1", "-B", master, "-p", "5201"])
            let pid = try Spawn.start(server, stdin: .devNull, stdout: .devNull, stderr: .devNull, environment: [:], session: .newGroup)
            defer { Daemon.stop(pid) }
            #expect(pollUntil(.seconds(5)) {
                (try? fixture.lab.exec("master", ["sh", "-c", "ss -ltn | grep -q '\(master):5201 '"]).succeeded) == true
            }, "iperf3 server listens")
            let result = try fixture.lab.exec("a1", ["iperf3", "-c", master, "-p", "5201", "--json"] + arguments, timeout: .seconds(60))
            return try IperfReport.decode(result.stdout)
        }

        @Test("a 100 ms link adds 100 ± 5 ms to the round trip; changed at run time; cleared, it is gone")
        func delay() throws {
            let fixture = try Self.federation()
            defer { fixture.close() }
            let baseline = try Self.medianRTT(fixture)
            let first = try fixture.lab.impair("companyA", LinkImpairment(delay: 0.1), forwarder: Self.forwarder)
            let delayed = try Self.medianRTT(fixture)
            #expect(abs(delayed - baseline - 100) <= 5, "baseline \(baseline) ms, impaired \(delayed) ms")

            // Changed while running: the same forwarder applies the new delay.
            let second = try fixture.lab.impair("a-r", LinkImpairment(delay: 0.2, jitter: 0.004), forwarder: Self.forwarder)
            #expect(second.pid == first.pid && second.generation == first.generation + 1)
            let slower = try Self.medianRTT(fixture)
            #expect(abs(slower - baseline - 200) <= 6, "baseline \(baseline) ms, impaired \(slower) ms")

            // Cleared: no forwarder, no rule, no device, and the round trip is back.
            try fixture.lab.clearImpairment("companyA")
            #expect(!Daemon.isAlive(first.pid))
            let wan = try fixture.lab.node("wan").namespace
            let rules = try fixture.lab.exec("wan", ["ip", "rule"]).stdout
            #expect(!rules.contains("lookup 102"), "\(rules)")
            #expect(try fixture.lab.exec("wan", ["ip", "link", "show", "i-companyA"]).status != 0, "TUN device gone in \(wan)")
            #expect(try Self.medianRTT(fixture) < baseline + 5)
            #expect(fixture.lab.impairments().allSatisfy { $0.status == nil })

            // A forwarder that is still running goes with the lab.
            let left = try fixture.lab.impair("companyB", LinkImpairment(delay: 0.01), forwarder: Self.forwarder)
            fixture.close()
            #expect(!Daemon.isAlive(left.pid), "fuse-lab down stops the forwarder")
        }

        @Test("5 % loss drops 5 ± 1 % of 4,000 packets, and a 20 Mbit/s cap holds within 10 %")
        func lossAndRate() throws {
            let fixture = try Self.federation()
            defer { fixture.close() }
            let before = try fixture.lab.impair("companyA", LinkImpairment(loss: 0.05), forwarder: Self.forwarder).fromDomain
            // One way, a1 → master: each 200-byte datagram is one WireGuard packet on the link.
            // A gentle rate (1250 packets/s), so that a loaded machine adds no losses of its own.
            let udp = try Self.iperf(fixture, ["-u", "-b", "2M", "-l", "200", "-k", "4000"])
            let counted = fixture.lab.impairments().first { $0.link == "companyA" }?.status?.fromDomain
            #expect(udp.packets == 4000, "sent \(udp.packets)")
            #expect((160...240).contains(udp.lostPackets),
                    "lost \(udp.lostPackets) of \(udp.packets) (\(udp.lostPercent) %); the forwarder dropped \((counted?.lost ?? 0) - before.lost) of \((counted?.packets ?? 0) - before.packets) at random")

            try fixture.lab.impair("companyA", LinkImpairment(rate: 20e6), forwarder: Self.forwarder)
            let tcp = try Self.iperf(fixture, ["-t", "5", "-O", "1"])
            // On the WAN each full segment (1380 bytes of payload in a 1420-byte tunnel packet)
            // is 1480 bytes: WireGuard's 32 bytes and the outer UDP and IP headers.
            let wire = tcp.receivedBitsPerSecond * 1480 / 1380
            #expect(abs(wire - 20e6) <= 2e6, "goodput \(tcp.receivedBitsPerSecond / 1e6) Mbit/s, \(wire / 1e6) Mbit/s on the link")
        }
    }
}
