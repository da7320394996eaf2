import Logging
import ServiceLifecycle
import UnixSignals

/// Runs services (an HTTP server among them) so that they always end by a graceful shutdown:
/// on one of `signals`, or when the calling task is cancelled.
///
/// Cancelling the task that serves one of NIO's async server channels traps the process
/// ("Deinited NIOAsyncWriter without calling finish()") when a connection was accepted but not
/// yet taken by the server loop (swift-nio#2637). A graceful shutdown closes the listening
/// socket first and then serves or closes every connection it accepted. The group runs in a
/// task of its own, so the caller's cancellation reaches it only as that request.
public enum GracefulServices {
    /// - Parameter limit: how long the services may take to finish after the shutdown began
    ///   (a stream that does not end is then cancelled).
    public static func run(_ services: [any Service], signals: [UnixSignal] = [], limit: Duration = .seconds(10),
                           logger: Logger) async throws {
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: signals, logger: logger)
        configuration.maximumGracefulShutdownDuration = limit
        let group = ServiceGroup(configuration: configuration)
        let running = Task { try await group.run() }
        try await withTaskCancellationHandler {
            try await running.value
        } onCancel: {
            Task { await group.triggerGracefulShutdown() }
        }
    }
}
