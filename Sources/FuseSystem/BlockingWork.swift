import Foundation
import NIOPosix
import Synchronization

/// Host work that blocks its thread (spawning and waiting for a process, `ip`, `nft`, a UAPI
/// socket, polling with sleeps) runs on NIO's thread pool, never on the cooperative pool that
/// serves every task of the process (in the master: the HTTP server too).
public enum BlockingWork {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(body)
    }
}

extension BlockingWork {
    /// Database work (the master's SQLite: a write waits for the one writer, a read for a free
    /// reader) on threads of its own: a burst of requests queues here instead of blocking the
    /// cooperative pool — where every blocked thread makes libdispatch start another, hundreds
    /// under a burst of joins —, and a slow host command on the shared pool never holds up a join.
    public static func database<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await databaseThreads.runIfActive(body)
    }

    private static let databaseThreads: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 3)
        pool.start()
        return pool
    }()
}

extension BlockingWork {
    /// Runs `work` on a thread of its own. Cancellation returns nil at once (the work finishes
    /// on its thread), so that a slow docker call never holds up the master's shutdown.
    public static func abandonable<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T? {
        let once = ResumeOnce<T?>()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                once.set(continuation)
                Thread.detachNewThread { once.resume(work()) }
            }
        } onCancel: {
            once.resume(nil)
        }
    }
}

/// A continuation resumed by whichever comes first, also when that comes before it is set.
final class ResumeOnce<T: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<T, Never>?, value: T?, done: Bool)>((nil, nil, false))

    func set(_ continuation: CheckedContinuation<T, Never>) {
        let ready: T? = state.withLock { state in
            guard !state.done else { return nil }
            if let value = state.value {
                state.done = true
                return value
            }
            state.continuation = continuation
            return nil
        }
        if let ready { continuation.resume(returning: ready) }
    }

    func resume(_ value: T) {
        let continuation: CheckedContinuation<T, Never>? = state.withLock { state in
            guard !state.done, state.value == nil else { return nil }
            guard let continuation = state.continuation else {
                state.value = value
                return nil
            }
            state.done = true
            state.continuation = nil
            return continuation
        }
        continuation?.resume(returning: value)
    }
}
