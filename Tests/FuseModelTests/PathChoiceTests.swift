import FuseModel
import Testing

/// A worker's choice between direct UDP and the relay, from its hub peer's counters.
@Suite struct PathChoiceTests {
    /// Feeds readings `(received, sent, now)`; the times at which the path changed.
    func changes(_ choice: inout PathChoice, _ readings: [(Int64, Int64, Double)]) -> [Double] {
        readings.compactMap { choice.observe(receivedBytes: $0.0, sentBytes: $0.1, now: $0.2) ? $0.2 : nil }
    }

    @Test func aHandshakeThatIsNeverAnsweredFallsBackAfterThreeSeconds() {
        var choice = PathChoice()
        #expect(choice.path == .direct)
        #expect(changes(&choice, [(0, 148, 0), (0, 148, 2.9), (0, 148, 3)]) == [3])
        #expect(choice.path == .relay)
        // While relayed the counters do not decide.
        #expect(changes(&choice, [(0, 900, 20)]).isEmpty)
        #expect(choice.path == .relay)
    }

    @Test func answeredTrafficStaysDirectAndAnIdleTunnelNeverFallsBack() {
        var choice = PathChoice()
        // Traffic both ways for 10 s, then idle (no counter moves) for a long time.
        let readings = [(Int64(92), Int64(148), 0.0)] + (1...30).map { second -> (Int64, Int64, Double) in
            let bytes = Int64(min(second, 10) * 1000)
            return (92 + bytes, 148 + bytes, Double(second))
        } + [(10092, 10148, 100)]
        #expect(changes(&choice, readings).isEmpty)
        #expect(choice.path == .direct)
    }

    @Test func sendingWithoutAnswersAfterABlockFallsBackWithinTheBound() {
        var choice = PathChoice()
        // Answered until t=0; from t=1 sent grows and received stands still.
        let readings = [(Int64(5000), Int64(5000), 0.0)] + (10...100).map { (Int64(5000), 5000 + Int64($0) * 100, Double($0) / 10) }
        #expect(changes(&choice, readings) == [4])
        #expect(choice.path == .relay)
    }

    @Test func aDirectAnswerWhileRelayedMovesBackAndCountsAfresh() {
        var choice = PathChoice()
        _ = changes(&choice, [(0, 148, 0), (0, 148, 3)])
        #expect(choice.path == .relay)
        let moved = choice.directAnswered(now: 4)
        #expect(moved && choice.path == .direct)
        let again = choice.directAnswered(now: 4.5)
        #expect(!again, "already direct")
        // A new baseline: the earlier unanswered bytes do not count against the new direct path.
        #expect(changes(&choice, [(800, 900, 6), (800, 900, 30)]).isEmpty)
        #expect(choice.path == .direct)
    }

    @Test func aDirectPathThatFailsAgainSoonHoldsTheRelayLongerEachTime() {
        var choice = PathChoice()
        _ = changes(&choice, [(0, 148, 0), (0, 148, 3)])
        /// Whether a direct answer at each time moves the path.
        func answers(_ times: [Double]) -> [Bool] { times.map { choice.directAnswered(now: $0) } }
        // The first move back is at once; it lasts a minute, so its failure holds nothing.
        #expect(answers([10]) == [true])
        #expect(changes(&choice, [(0, 100, 70), (0, 200, 71), (0, 300, 74)]) == [74])
        #expect(choice.holdDown == 0)
        #expect(answers([75]) == [true], "no hold-down after a direct path that lasted")
        // It fails 5 s after the move (the probe passes, the tunnel's port does not): held 15 s, then 30 s.
        #expect(changes(&choice, [(0, 100, 76), (0, 200, 77), (0, 300, 80)]) == [80])
        #expect(choice.holdDown == PathChoice.firstHoldDown)
        #expect(answers([94, 95]) == [false, true], "held until 15 s after the fallback")
        #expect(changes(&choice, [(0, 100, 96), (0, 200, 97), (0, 300, 100)]) == [100])
        #expect(choice.holdDown == 30)
        #expect(answers([129, 130]) == [false, true])
        // Doubling stops at the bound.
        for round in 0..<8 {
            let t = 200 + Double(round) * 400
            _ = changes(&choice, [(0, 100, t), (0, 200, t + 1), (0, 300, t + 4)])
            _ = answers([t + 390])
        }
        #expect(choice.holdDown == PathChoice.maxHoldDown)
    }

    @Test func fusePathRelayForcesTheRelayAndBadValuesAreRefused() throws {
        var forced = try PathChoice(environment: "relay")
        #expect(forced.path == .relay && forced.forced)
        let moved = forced.directAnswered(now: 100)
        #expect(!moved && forced.path == .relay)
        #expect(try PathChoice(environment: nil).path == .direct)
        #expect(try PathChoice(environment: "auto").path == .direct)
        #expect(throws: PathSettingError.self) { try PathChoice(environment: "udp") }
        #expect("\(PathSettingError(value: "udp"))" == #"bad FUSE_PATH "udp": use auto or relay"#)
    }
}

/// The relayed worker's UDP probe and the hub's redirect of it.
@Suite struct UDPProbeTests {
    @Test func aProbeCarriesItsNonceAndNothingElseIsOne() {
        let probe = UDPProbe.datagram(nonce: 0x0102_0304_0506_0708)
        #expect(probe.count == UDPProbe.length)
        #expect(Array(probe.prefix(8)) == Array("FUSEPROB".utf8))
        #expect(UDPProbe.nonce(of: probe) == 0x0102_0304_0506_0708)
        #expect(UDPProbe.nonce(of: UDPProbe.datagram(nonce: .max)) == .max)
        #expect(UDPProbe.nonce(of: probe.dropLast()) == nil, "too short")
        #expect(UDPProbe.nonce(of: probe + [0]) == nil, "too long: an answer is never larger than its probe")
        // A WireGuard handshake initiation (type 1, three zero bytes) is never a probe.
        #expect(UDPProbe.nonce(of: [1, 0, 0, 0] + [UInt8](repeating: 0x46, count: 12)) == nil)
        #expect(UDPProbe.nonce(of: Array("FUSEPROX".utf8) + [UInt8](repeating: 0, count: 8)) == nil)
    }

    @Test func theHubRedirectsProbesToItsWireGuardPortAndWorkersDoNot() throws {
        let cidr = try IPv4CIDR(parsing: "100.64.0.0/16")
        let probe = ProbeRedirect(hubPort: 51820, answerPort: 443)
        let hub = NodeRuleset.render(interface: "fuse0", cidr: cidr, address: IPv4Address("100.64.0.1")!, firewall: NodeFirewall(), isHub: true, probe: probe)
        #expect(hub.text.contains("""
              chain prerouting {
                type nat hook prerouting priority dstnat; policy accept;
                iifname != "fuse0" udp dport 51820 @th,64,64 0x4655534550524f42 redirect to :443
              }
            """))
        let worker = NodeRuleset.render(interface: "fuse0", cidr: cidr, address: IPv4Address("100.64.0.2")!, firewall: NodeFirewall(), isHub: false, probe: probe)
        #expect(!worker.text.contains("prerouting"))
    }
}
