import FuseModel
#if canImport(Glibc)
import Glibc
#endif

/// Waits for a condition with a deadline, polling every `interval`; returns whether it held.
/// It suspends the task between polls; `pollUntil` is its blocking twin for synchronous code
/// (the lab's).
@discardableResult
nonisolated(nonsending) public func waitFor(_ timeout: Duration, every interval: Duration = .milliseconds(50), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return await condition()
}

/// Polls `condition` every `interval`, blocking the thread, until it holds or `timeout`
/// passes; returns whether it held.
@discardableResult
public func pollUntil(_ timeout: Duration, every interval: Duration = .milliseconds(20), _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        usleep(UInt32(interval.inSeconds * 1_000_000))
    }
    return condition()
}
