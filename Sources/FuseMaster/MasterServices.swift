import Foundation
import FuseAgent
import FuseControl
import FuseModel
import FuseSystem
import Logging
import ServiceLifecycle

// The master process's services besides the HTTPS server (run together by its ServiceGroup).

/// Answers `NAME.DOMAIN.fuse` on the master's VPN address, port 53, once the hub has it.
struct DNSService: Service {
    let controlPlane: ControlPlane
    let address: String
    let logger: Logger

    func run() async throws {
        let responder = DNSResponder(host: address, port: 53, resolve: { controlPlane.resolve($0) })
        do {
            try await cancelWhenGracefulShutdown {
                var logged = false
                while !Task.isCancelled {
                    do {
                        try await responder.run { _ in logger.info("DNS responder listening", metadata: ["address": "\(address):53"]) }
                        return
                    } catch {
                        // The hub's address appears when the agent has configured the interface.
                        if !logged { logger.debug("DNS responder waiting for \(address)", metadata: ["error": "\(error)"]) }
                        logged = true
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
            }
        } catch is CancellationError {}
    }
}

/// Answers relayed workers' UDP probes on the API's port number (`ProbeResponder`). Without it
/// the relay still works; a relayed worker just never moves back to direct.
struct ProbeService: Service {
    let host: String
    let port: Int
    let logger: Logger

    func run() async throws {
        let responder: ProbeResponder
        do { responder = try await ProbeResponder.start(host: host, port: port) } catch {
            logger.warning("no UDP probe responder: relayed nodes will not move back to direct", metadata: ["error": "\(error)"])
            return
        }
        try? await gracefulShutdown()
        await responder.stop()
    }
}

/// On shutdown, ends the long-polls so that the server stops at once.
struct LongPollCloser: Service {
    let controlPlane: ControlPlane

    func run() async throws {
        try? await gracefulShutdown()
        await controlPlane.closeLongPolls()
    }
}

struct AgentService: Service {
    let agent: Agent

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await agent.run() }
        } catch is CancellationError {}
    }
}

struct LocalAPIService: Service {
    let socket: String
    let handler: any LocalAPIHandler
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await LocalAPIServer.run(socket: socket, handler: handler, logger: logger) }
        } catch is CancellationError {}
    }
}
