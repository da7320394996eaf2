import Foundation

/// The steps of a long operation (a join, a leave, a master start), timed as they finish and
/// reported to `sink` as they happen: the daemon streams them to the CLI, the CLI prints them.
public final class Steps: @unchecked Sendable {
    private let lock = NSLock()
    private let start = ContinuousClock.now
    private var last = ContinuousClock.now
    private var finished: [(String, Double)] = []
    let sink: @Sendable (LocalAPI.Event) -> Void

    public init(sink: @escaping @Sendable (LocalAPI.Event) -> Void) { self.sink = sink }

    public func begin(_ what: String) {
        sink(LocalAPI.Event(kind: .begin, message: what))
    }

    public func done(_ what: String) {
        let seconds: Double = lock.withLock {
            let now = ContinuousClock.now
            let seconds = (now - last).inSeconds
            last = now
            finished.append((what, seconds))
            return seconds
        }
        sink(LocalAPI.Event(kind: .done, message: what, seconds: seconds))
    }

    public func note(_ what: String) {
        sink(LocalAPI.Event(kind: .note, message: what))
    }

    /// The finished steps with their seconds.
    public var steps: [(String, Double)] { lock.withLock { finished } }

    public var total: Double { (ContinuousClock.now - start).inSeconds }
}
