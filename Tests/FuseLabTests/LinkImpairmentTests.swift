import Foundation
import Testing
@testable import FuseLab

@Suite struct LinkImpairmentTests {
    @Test func optionsParseInTcsUnits() throws {
        #expect(try LinkImpairment.parseDuration("100ms") == 0.1)
        #expect(try LinkImpairment.parseDuration("0.25s") == 0.25)
        #expect(try LinkImpairment.parseDuration("500us") == 0.0005)
        #expect(try LinkImpairment.parseDuration("0") == 0)
        #expect(throws: LabError.self) { try LinkImpairment.parseDuration("100") }
        #expect(throws: LabError.self) { try LinkImpairment.parseDuration("-5ms") }
        #expect(try LinkImpairment.parsePercent("5%") == 0.05)
        #expect(try LinkImpairment.parsePercent("0.2") == 0.002)
        #expect(throws: LabError.self) { try LinkImpairment.parsePercent("120%") }
        #expect(try LinkImpairment.parseRate("20mbit") == 20e6)
        #expect(try LinkImpairment.parseRate("20Mbit/s") == 20e6)
        #expect(try LinkImpairment.parseRate("500kbit") == 500e3)
        #expect(try LinkImpairment.parseRate("1gbit") == 1e9)
        #expect(throws: LabError.self) { try LinkImpairment.parseRate("20mbps") }
        #expect(throws: LabError.self) { try LinkImpairment.parseRate("fast") }
    }

    @Test func rangesAreChecked() {
        #expect(throws: Never.self) { try LinkImpairment(delay: 0.4, jitter: 0.005, loss: 0.2, rate: 20e6).validate() }
        #expect(throws: LabError.self) { try LinkImpairment(delay: 11).validate() }
        #expect(throws: LabError.self) { try LinkImpairment(rate: 100).validate() }
        #expect(LinkImpairment(delay: 0.1, jitter: 0.005, loss: 0.05, rate: 20e6).description == "delay 100 ms, jitter 5 ms, loss 5 %, rate 20 Mbit/s")
        #expect(LinkImpairment.none.description == "delay 0 ms, loss 0 %, rate unlimited")
    }

    @Test func tokenBucketSendsABurstThenPacesAtTheRate() throws {
        // 8 Mbit/s = 1 MB/s = 1 byte per µs; a 3000-byte bucket.
        var bucket = TokenBucket(bitsPerSecond: 8e6, burst: 3000, now: 0)
        #expect(bucket.departure(bytes: 1500, now: 0, limit: 1_000_000_000) == 0)
        #expect(bucket.departure(bytes: 1500, now: 0, limit: 1_000_000_000) == 0)
        // Empty now: the next 1500 bytes wait 1.5 ms, the one after 3 ms.
        #expect(bucket.departure(bytes: 1500, now: 0, limit: 1_000_000_000) == 1_500_000)
        #expect(bucket.departure(bytes: 1500, now: 0, limit: 1_000_000_000) == 3_000_000)
        // A packet that would wait longer than the limit is dropped and costs nothing.
        #expect(bucket.departure(bytes: 1500, now: 0, limit: 4_000_000) == nil)
        #expect(bucket.departure(bytes: 1500, now: 0, limit: 5_000_000) == 4_500_000)
        // After a long pause the bucket is full again, but no fuller.
        #expect(bucket.departure(bytes: 3000, now: 1_000_000_000, limit: 0) == 1_000_000_000)
        #expect(bucket.departure(bytes: 1, now: 1_000_000_000, limit: 0) == nil)
    }

    @Test func delayIsHalfTheRoundTripEachWayAndNeverReorders() {
        var schedule = DirectionSchedule(LinkImpairment(delay: 0.1), seed: 1)
        #expect(schedule.fate(bytes: 100, now: 1_000) == .release(at: 50_001_000))
        var jittery = DirectionSchedule(LinkImpairment(delay: 0.1, jitter: 0.02), seed: 7)
        var last: UInt64 = 0
        for step in 0..<10_000 {
            let now = UInt64(step) * 100_000  // a packet every 0.1 ms
            guard case .release(let at) = jittery.fate(bytes: 100, now: now) else {
                Issue.record("no loss configured, yet a packet was dropped")
                return
            }
            #expect(at >= last, "packet \(step) leaves before the one before it")
            #expect(at >= now + 40_000_000 && at <= now + 60_000_000 + 10_000_000, "one-way delay \(Double(at - now) / 1e6) ms")
            last = at
        }
    }

    @Test func lossDropsTheGivenShareOfPackets() {
        var schedule = DirectionSchedule(LinkImpairment(loss: 0.05), seed: 42)
        var lost = 0
        for _ in 0..<100_000 where schedule.fate(bytes: 100, now: 0) == .lost { lost += 1 }
        #expect((4_700...5_300).contains(lost), "lost \(lost) of 100000 at 5 %")
    }

    @Test func anUpdateChangesLaterPacketsOnly() {
        var schedule = DirectionSchedule(LinkImpairment(delay: 0.2), seed: 3)
        #expect(schedule.fate(bytes: 100, now: 0) == .release(at: 100_000_000))
        schedule.update(LinkImpairment.none, now: 1_000)
        // No reordering: the next packet waits for the one still in the line.
        #expect(schedule.fate(bytes: 100, now: 1_000) == .release(at: 100_000_000))
        #expect(schedule.fate(bytes: 100, now: 200_000_000) == .release(at: 200_000_000))
    }

    @Test func rateQueueDropsWhenFull() {
        var schedule = DirectionSchedule(LinkImpairment(rate: 8e6), seed: 1, queueLimit: 10_000_000)
        var fates: [DirectionSchedule.Fate] = []
        for _ in 0..<20 { fates.append(schedule.fate(bytes: 1500, now: 0)) }
        // 1 byte/µs and 10 ms of queue: the burst plus about 10000 bytes fit, the rest is dropped.
        let released = fates.filter { if case .release = $0 { return true } else { return false } }.count
        #expect((7...9).contains(released), "\(fates)")
        #expect(fates.last == .queueFull)
    }

    @Test func linksAreFoundByDomainRouterOrLinkNameAndRouteThroughTheirDevice() throws {
        let topology = try LabTopology.standard(prefix: "ti-")
        let link = try topology.impairedLink("companya")
        #expect(try topology.impairedLink("a-r") == link)
        #expect(try topology.impairedLink("r-companyA") == link)
        #expect(throws: LabError.self) { try topology.impairedLink("companyC") }
        #expect(link.device == "i-companyA")
        #expect(link.rulePreferences == [1002, 1102, 1202])
        #expect(link.routingCommands(namespace: "ti-wan").map(\.description) == [
            "ip -n ti-wan link set i-companyA up",
            "nsenter --net=/var/run/netns/ti-wan -- sysctl -q -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.i-companyA.rp_filter=0 net.ipv6.conf.i-companyA.disable_ipv6=1",
            "ip -n ti-wan route replace default dev i-companyA table 102",
            "ip -n ti-wan rule add pref 1002 iif i-companyA to 172.31.2.0/24 lookup main",
            "ip -n ti-wan rule add pref 1102 iif r-companyA lookup 102",
            "ip -n ti-wan rule add pref 1202 to 172.31.2.0/24 lookup 102",
        ])
        #expect(link.clearScript(namespace: "ti-wan") == """
            ip -n ti-wan rule del pref 1002 2>/dev/null
            ip -n ti-wan rule del pref 1102 2>/dev/null
            ip -n ti-wan rule del pref 1202 2>/dev/null
            ip -n ti-wan route flush table 102 2>/dev/null
            true

            """)
    }
}
