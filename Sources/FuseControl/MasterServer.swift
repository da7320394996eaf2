import Foundation
import FuseModel
import FuseSystem
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// Runs the control plane (HTTPS on all addresses at the API port) together with other
/// services of the master process (its own agent) until SIGTERM or SIGINT.
public enum MasterServer {
    public static func run(state: MasterState, controlPlane: ControlPlane, services: [any Service], logger: Logger,
                           bounds: ConnectionBounds = .fromEnvironment(), listenAddress: String = "0.0.0.0",
                           onRunning: @escaping @Sendable () async -> Void) async throws {
        let (router, _) = ControlPlaneAPI.router(controlPlane)
        let app = Application(
            router: router,
            server: try server(tls: try state.tlsConfiguration(), bounds: bounds),
            configuration: .init(address: .hostname(listenAddress, port: Int(controlPlane.config.apiPort)), serverName: nil,
                                 backlog: listenBacklog),
            services: services,
            onServerRunning: { _ in await onRunning() },
            logger: logger)
        try await GracefulServices.run([app], signals: [.sigterm, .sigint], logger: logger)
    }

    /// Connections the kernel queues before the server accepts them (capped by
    /// `net.core.somaxconn`). Hummingbird's 256 overflowed when a thousand nodes reconnected at
    /// once or the master fell behind on a loaded machine: the kernel fell back to SYN cookies
    /// ("Possible SYN flooding on port 7443") and dropped handshakes it had already answered,
    /// which the client saw as a connection closed before its first request.
    static let listenBacklog = 4096

    /// HTTP/1.1 (over TLS unless `tls` is nil, as in tests) within `bounds`.
    public static func server(tls: TLSConfiguration?, bounds: ConnectionBounds) throws -> HTTPServerBuilder {
        let counter = ConnectionCounter()
        let http = HTTPServerBuilder.http1(configuration: .init(
            additionalChannelHandlers: [
                ConnectionBoundsHandler(counter: counter, limit: bounds.maxConnectionsPerSource, headerTimeout: bounds.headerTimeout),
            ],
            idleTimeout: TimeAmount(bounds.idleTimeout)))
        guard let tls else { return http }
        return try .tls(http, tlsConfiguration: tls)
    }
}
