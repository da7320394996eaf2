import Foundation
import FuseModel
import Synchronization

/// Bounds on refused joins. A join token's secret has 256 bits, so guessing is hopeless; these
/// keep a guesser from costing the master work and log space: refused attempts are limited per
/// source address and per token id (successful joins are never held back, so a federation can
/// grow fast), and at most a few refusals a minute are logged, with a count of the rest.
final class JoinLimits: Sendable {
    struct Limits: Sendable {
        var sources = KeyedRateLimit<String>(capacity: 20, perSecond: 0.5)
        var tokens = KeyedRateLimit<String>(capacity: 10, perSecond: 0.2)
        var log: TokenBucket
        var unlogged = 0
    }

    private let limits: Mutex<Limits>

    init(now: Date) {
        limits = Mutex(Limits(log: TokenBucket(capacity: 10, perSecond: 0.1, now: now)))
    }

    /// Nil when an attempt may go ahead; else the seconds until one may.
    func wait(source: String, tokenID: String, now: Date) -> TimeInterval? {
        limits.withLock { limits in
            let wait = max(limits.sources.wait(source, at: now), limits.tokens.wait(tokenID, at: now))
            return wait > 0 ? wait : nil
        }
    }

    /// Records a refused attempt. Returns whether to log it, and how many earlier refusals went unlogged.
    func refused(source: String, tokenID: String, now: Date) -> (log: Bool, unlogged: Int) {
        limits.withLock { limits in
            limits.sources.spend(source, at: now)
            limits.tokens.spend(tokenID, at: now)
            guard limits.log.spend(at: now) else {
                limits.unlogged += 1
                return (false, limits.unlogged)
            }
            defer { limits.unlogged = 0 }
            return (true, limits.unlogged)
        }
    }
}
