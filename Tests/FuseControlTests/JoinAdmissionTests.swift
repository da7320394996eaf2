import Foundation
@testable import FuseControl
import FuseModel
import FuseSystem
import Hummingbird
import HummingbirdTesting
import Testing

@Suite struct JoinAdmissionTests {
    /// A join that enrols until the test lets it go.
    final class Held: Sendable {
        let started = AsyncStream<Void>.makeStream()
        let release = AsyncStream<Void>.makeStream()
        func run() async -> Int {
            started.continuation.yield()
            for await _ in release.stream { break }
            return 1
        }
    }

    @Test func joinsBeyondTheLimitWaitInOrderAndBeyondTheQueueAreBusy() async throws {
        let admission = JoinAdmission(limit: 1, queueLimit: 1)
        let first = Held(), second = Held()
        async let one = admission.admitted { await first.run() }
        for await _ in first.started.stream { break }
        async let two = admission.admitted { await second.run() }
        try #require(await waitFor(.seconds(5), every: .milliseconds(5)) { await admission.counts.waiting == 1 }, "the second join waits")
        #expect(await admission.counts == (running: 1, waiting: 1))
        // A third finds the queue full: refused at once, with when to come back.
        await #expect(throws: JoinError.busy(waiting: 1, retryAfterSeconds: 1)) { try await admission.admitted { 3 } }
        first.release.continuation.yield()
        #expect(try await one == 1)
        for await _ in second.started.stream { break }
        #expect(await admission.counts == (running: 1, waiting: 0), "the slot went to the waiting join")
        second.release.continuation.yield()
        #expect(try await two == 1)
        #expect(await admission.counts == (running: 0, waiting: 0))
        #expect(try await admission.admitted { 4 } == 4)
    }

    @Test func busyIsA503WithRetryAfter() async throws {
        let router = Router()
        router.get("/join") { _, _ -> String in throw JoinError.busy(waiting: 1024, retryAfterSeconds: 1) }
        try await Application(router: router).test(.router) { client in
            let response = try await client.execute(uri: "/join", method: .get)
            #expect(response.status == .serviceUnavailable)
            #expect(response.headers[.retryAfter] == "1")
            #expect(String(buffer: response.body).contains("the master is busy with 1024 waiting joins; try again in 1 s"))
        }
    }
}

@Suite struct CoalescedWorkTests {
    /// Counts runs and holds each one until the test lets it go.
    actor Runs {
        var started = 0
        var gates: [CheckedContinuation<Void, Never>] = []
        func run() async {
            started += 1
            await withCheckedContinuation { gates.append($0) }
        }
        func release() {
            gates.forEach { $0.resume() }
            gates.removeAll()
        }
        var waiting: Int { gates.count }
    }

    @Test func callersDuringARunShareTheNextOne() async throws {
        let work = CoalescedWork(), runs = Runs()
        async let first: Void = work.run { await runs.run() }
        try #require(await waitFor(.seconds(5), every: .milliseconds(5)) { await runs.waiting == 1 }, "a run holds")
        // Three callers while the first run goes: none is served by it (it began before they asked).
        async let second: Void = work.run { await runs.run() }
        async let third: Void = work.run { await runs.run() }
        async let fourth: Void = work.run { await runs.run() }
        try await Task.sleep(for: .milliseconds(50))
        #expect(await runs.started == 1)
        await runs.release()
        try await first
        try #require(await waitFor(.seconds(5), every: .milliseconds(5)) { await runs.waiting == 1 }, "a run holds")
        await runs.release()
        _ = try await (second, third, fourth)
        #expect(await runs.started == 2, "one more run for the three")
        #expect(await work.runs == 2)
    }
}
