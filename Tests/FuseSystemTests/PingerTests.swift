import FuseModel
import FuseSystem
import Foundation
import Testing

/// A raw ICMP socket needs root (as the master runs); the suite runs as root (scripts/test).
@Suite struct PingerTests {
    @Test func loopbackAnswersOneEchoFromOneSocket() throws {
        try #require(getuid() == 0, "root only")
        let loopback = try #require(IPv4Address("127.0.0.1"))
        let clock = ContinuousClock(), start = clock.now
        let answered = Pinger.roundTrips(to: [loopback, loopback], timeout: .seconds(2))
        #expect(answered.keys.sorted { $0.value < $1.value } == [loopback], "one entry per address")
        #expect((answered[loopback] ?? .infinity) < 1000)
        #expect(clock.now - start < .seconds(1), "the round ends once every address answered, not at the timeout")
    }

    @Test func noAddressesIsAnEmptyRoundAtOnce() {
        #expect(Pinger.roundTrips(to: [], timeout: .seconds(5)).isEmpty)
    }
}
