/// Waits for a condition with a deadline, polling every `interval`; returns whether it held.
public func waitFor(_ timeout: Duration, every interval: Duration = .milliseconds(50), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return await condition()
}
