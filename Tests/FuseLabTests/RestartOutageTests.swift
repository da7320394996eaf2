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
        let outage = try #require(PingOutage.measure(replies: replies, began: 1000.08, ended: 1001.0))
        #expect(abs(outage.seconds - 1.25) < 1e-9 && abs(outage.afterEvent - 0.35) < 1e-9)
        // Nothing lost after the event: about the interval; traffic back before the event ended.
        let none = try #require(PingOutage.measure(replies: replies, began: 1001.36, ended: 1001.5))
        #expect(abs(none.seconds - 0.05) < 1e-9 && none.afterEvent == 0)
        // No reply after the event: no figure.
        #expect(PingOutage.measure(replies: replies, began: 1001.5, ended: 1001.6) == nil)
    }

    @Test func csvAndSummary() {
        let results = RestartResults(pingInterval: 0.05, measurements: [
            RestartMeasurement(event: .masterRestart, run: 1, outage: Outage(seconds: 1.5, afterEvent: 0.25)),
            RestartMeasurement(event: .masterRestart, run: 2, outage: Outage(seconds: 0.5, afterEvent: 0)),
            RestartMeasurement(event: .masterRestart, run: 3, outage: nil),
            RestartMeasurement(event: .hubKill, run: 1, outage: Outage(seconds: 0.25, afterEvent: 0.25)),
        ])
        #expect(results.csv == "event,run,outage_s,after_event_s\nmaster-restart,1,1.500,0.250\nmaster-restart,2,0.500,0.000\nmaster-restart,3,,\nhub-kill,1,0.250,0.250\n")
        #expect(results.summaryCSV == "event,runs,failed,min_s,median_s,max_s\nmaster-restart,3,1,0.500,1.000,1.500\nhub-kill,1,0,0.250,0.250,0.250\n")
    }
}
