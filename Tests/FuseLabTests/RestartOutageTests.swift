import FuseLab
import Testing

@Suite struct RestartOutageTests {
    let output = """
        PING 100.64.0.3 (100.64.0.3) 56(84) bytes of data.
        [1000.000] 64 bytes from 100.64.0.3: icmp_seq=1 ttl=63 time=0.4 ms
        [1000.050] 64 bytes from 100.64.0.3: icmp_seq=2 ttl=63 time=0.4 ms
        [1000.100] 64 bytes from 100.64.0.3: icmp_seq=3 ttl=63 time=0.4 ms
        [1001.350] 64 bytes from 100.64.0.3: icmp_seq=28 ttl=63 time=0.5 ms
        [1001.400] 64 bytes from 100.64.0.3: icmp_seq=29 ttl=63 time=0.5 ms

        --- 100.64.0.3 ping statistics ---
        """

    @Test func repliesAreReadFromPingDOutput() {
        #expect(PingOutage.replies(in: output) == [1000.0, 1000.05, 1000.1, 1001.35, 1001.4])
    }

    @Test func theOutageRunsFromTheLastReplyBeforeToTheFirstAfter() throws {
        let replies = PingOutage.replies(in: output)
        #expect(abs(try #require(PingOutage.outage(replies: replies, since: 1000.08)) - 1.25) < 1e-9)
        // Nothing lost after the event: about the interval.
        #expect(abs(try #require(PingOutage.outage(replies: replies, since: 1001.36)) - 0.05) < 1e-9)
        // No reply after the event: no figure.
        #expect(PingOutage.outage(replies: replies, since: 1001.5) == nil)
    }

    @Test func csvAndSummary() {
        let results = RestartResults(pingInterval: 0.05, measurements: [
            RestartMeasurement(event: .masterRestart, run: 1, outageSeconds: 1.5),
            RestartMeasurement(event: .masterRestart, run: 2, outageSeconds: 0.5),
            RestartMeasurement(event: .masterRestart, run: 3, outageSeconds: nil),
            RestartMeasurement(event: .hubKill, run: 1, outageSeconds: 0.25),
        ])
        #expect(results.csv == "event,run,outage_s\nmaster-restart,1,1.500\nmaster-restart,2,0.500\nmaster-restart,3,\nhub-kill,1,0.250\n")
        #expect(results.summaryCSV == "event,runs,failed,min_s,median_s,max_s\nmaster-restart,3,1,0.500,1.000,1.500\nhub-kill,1,0,0.250,0.250,0.250\n")
    }
}
