import FuseModel
import Testing

/// A worker's choice between direct UDP and the relay, from its hub peer's counters.
@Suite struct PathChoiceTests {
    @Test func aHandshakeThatIsNeverAnsweredFallsBackAfterFiveSeconds() {
        var choice = PathChoice()
        #expect(choice.path == .direct)
        #expect(!choice.observe(receivedBytes: 0, sentBytes: 148, now: 0))
        #expect(!choice.observe(receivedBytes: 0, sentBytes: 148, now: 4.9))
        #expect(choice.observe(receivedBytes: 0, sentBytes: 296, now: 5))
        #expect(choice.path == .relay)
        // While relayed the counters do not decide.
        #expect(!choice.observe(receivedBytes: 0, sentBytes: 900, now: 20))
        #expect(choice.path == .relay)
    }

    @Test func answeredTrafficStaysDirectAndAnIdleTunnelNeverFallsBack() {
        var choice = PathChoice()
        _ = choice.observe(receivedBytes: 92, sentBytes: 148, now: 0)
        for second in 1...30 {
            // Traffic both ways, then idle (no counter moves).
            let bytes = Int64(min(second, 10) * 1000)
            #expect(!choice.observe(receivedBytes: 92 + bytes, sentBytes: 148 + bytes, now: Double(second)))
        }
        #expect(!choice.observe(receivedBytes: 10092, sentBytes: 10148, now: 100))
        #expect(choice.path == .direct)
    }

    @Test func sendingWithoutAnswersAfterABlockFallsBackWithinTheBound() {
        var choice = PathChoice()
        _ = choice.observe(receivedBytes: 5000, sentBytes: 5000, now: 0)
        // UDP blocked from t=1: sent grows, received stands still.
        var changedAt: Double?
        for tenth in 10...100 {
            let now = Double(tenth) / 10
            if choice.observe(receivedBytes: 5000, sentBytes: 5000 + Int64(tenth) * 100, now: now) { changedAt = now; break }
        }
        #expect(changedAt == 6)
        #expect(choice.path == .relay)
    }

    @Test func aDirectAnswerWhileRelayedMovesBackAndCountsAfresh() {
        var choice = PathChoice()
        _ = choice.observe(receivedBytes: 0, sentBytes: 148, now: 0)
        _ = choice.observe(receivedBytes: 0, sentBytes: 148, now: 5)
        #expect(choice.path == .relay)
        #expect(choice.directAnswered())
        #expect(choice.path == .direct)
        #expect(!choice.directAnswered(), "already direct")
        // A new baseline: the earlier unanswered bytes do not count against the new direct path.
        #expect(!choice.observe(receivedBytes: 800, sentBytes: 900, now: 6))
        #expect(!choice.observe(receivedBytes: 800, sentBytes: 900, now: 30))
        #expect(choice.path == .direct)
    }

    @Test func fusePathRelayForcesTheRelayAndBadValuesAreRefused() throws {
        var forced = try PathChoice(environment: "relay")
        #expect(forced.path == .relay && forced.forced)
        #expect(!forced.directAnswered())
        #expect(forced.path == .relay)
        #expect(try PathChoice(environment: nil).path == .direct)
        #expect(try PathChoice(environment: "auto").path == .direct)
        #expect(throws: PathSettingError.self) { try PathChoice(environment: "udp") }
        #expect("\(PathSettingError(value: "udp"))" == #"bad FUSE_PATH "udp": use auto or relay"#)
    }
}
