import Foundation
import FuseModel
import Hummingbird
import HummingbirdTLS
import Logging
import ServiceLifecycle

/// Runs the control plane (HTTPS on all addresses at the API port) together with other
/// services of the master process (its own agent) until SIGTERM or SIGINT.
public enum MasterServer {
    public static func run(state: MasterState, controlPlane: ControlPlane, services: [any Service], logger: Logger, onRunning: @escaping @Sendable () async -> Void) async throws {
        let (router, _) = ControlPlaneAPI.router(controlPlane)
        let app = Application(
            router: router,
            server: try .tls(.http1(), tlsConfiguration: try state.tlsConfiguration()),
            configuration: .init(address: .hostname("0.0.0.0", port: Int(controlPlane.config.apiPort)), serverName: nil),
            services: services,
            onServerRunning: { _ in await onRunning() },
            logger: logger)
        try await app.runService()
    }
}
