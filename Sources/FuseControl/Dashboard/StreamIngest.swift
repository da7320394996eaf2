import Foundation
import FuseModel
import Hummingbird
import ServiceLifecycle
import Synchronization

/// Reads one relay's push (a chunked body that lasts as long as the camera streams) into the
/// stream hub, box by box. It ends when the relay ends the body, when nothing arrives for
/// `idleLimit` (a relay whose node vanished without closing the connection), or when the
/// master shuts down (a push never ends by itself, and must not hold the server open).
enum StreamIngest {
    static let idleLimit: Duration = .seconds(5)

    /// When the push last brought data; shared by its reader and its idle watch.
    final class LastArrival: Sendable {
        let instant = Mutex(ContinuousClock.now)
    }

    enum Stop: Error {
        case idle
        case shutdown
    }

    static func receive(_ body: RequestBody, connection: UUID, hub: StreamHub, now: @escaping @Sendable () -> Date) async throws {
        let lastData = LastArrival()
        let failure: (any Error)? = await withTaskGroup(of: (any Error)?.self) { group in
            group.addTask {
                var reader = FragmentedMP4Reader()
                do {
                    for try await buffer in body {
                        lastData.instant.withLock { $0 = .now }
                        await hub.receive(connection, try reader.append(buffer.readableBytesView), at: now())
                    }
                    return nil
                } catch {
                    return error
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    let closed = await hub.isClosed
                    if Task.isShuttingDownGracefully || closed { return Stop.shutdown }
                    if ContinuousClock.now - lastData.instant.withLock({ $0 }) > idleLimit { return Stop.idle }
                }
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        await hub.end(connection, at: now())
        switch failure {
        case nil: return
        case let error as MP4Error: throw StreamError.invalid(error.description)
        case Stop.idle?: throw StreamError.idle(seconds: idleLimit.components.seconds)
        case Stop.shutdown?: throw StreamError.shuttingDown
        case let error?: throw error
        }
    }
}
