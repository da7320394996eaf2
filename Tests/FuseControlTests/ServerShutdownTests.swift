import Foundation
import FuseControl
import FuseSystem
import Hummingbird
import Logging
import Synchronization
import Testing

/// Stopping the control plane's server (its task cancelled, as a test or an embedding process
/// does) while clients keep connecting: the server ends cleanly and stops listening.
@Suite struct ServerShutdownTests {
    @Test("a server cancelled while connections arrive ends without trapping and stops listening")
    func cancelledWhileConnectionsArrive() async throws {
        var logger = Logger(label: "fuse-shutdown-tests")
        logger.logLevel = .critical
        let router = Router()
        router.get("/v1/health") { _, _ in "ok" }
        for round in 0..<25 {
            let port = try PortProbe.freeTCPPort()
            let app = Application(router: router, server: try MasterServer.server(tls: nil, bounds: ConnectionBounds()),
                                  configuration: .init(address: .hostname("127.0.0.1", port: Int(port)), serverName: nil), logger: logger)
            let ended = Flag()
            let serving = Task {
                defer { ended.set() }
                try await GracefulServices.run([app], logger: logger)
            }
            #expect(await waitFor(.seconds(10), every: .milliseconds(10)) { PortProbe.tcpOpen(host: "127.0.0.1", port: port) },
                    "round \(round): the server listens")
            // Connections keep arriving (some complete a request, some only open) while the task
            // is cancelled: some are accepted and not yet taken by the server loop at that moment.
            let hammering = Hammer(port: port)
            let arrivals = Int.random(in: 1...60)
            #expect(await waitFor(.seconds(10), every: .milliseconds(1)) { hammering.connections >= arrivals },
                    "round \(round): clients connect")
            serving.cancel()
            let stopped = await waitFor(.seconds(15), every: .milliseconds(20)) { ended.isSet }
            hammering.stop()
            #expect(stopped, "round \(round): the server ends after its task is cancelled")
            #expect(!PortProbe.tcpOpen(host: "127.0.0.1", port: port), "round \(round): nothing listens afterwards")
        }
    }
}

/// Set once, read from anywhere.
private final class Flag: Sendable {
    private let value = Atomic(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}

/// Opens loopback connections to `port` as fast as it can on two threads until stopped; every
/// other one sends a request. A thread may still be in a `connect` whose SYN the closing
/// listener dropped (retried after 1 s); it ends after that without connecting again.
private final class Hammer: Sendable {
    private let stopped = Atomic(false)
    private let opened = Atomic(0)

    init(port: UInt16) {
        for _ in 0..<2 {
            Thread.detachNewThread { [self] in
                var index = 0
                while !stopped.load(ordering: .relaxed) {
                    guard let connection = try? RawConnection(port: Int(port)) else { continue }
                    opened.add(1, ordering: .relaxed)
                    if index % 2 == 0 { try? connection.send("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n") }
                    connection.close()
                    index += 1
                }
            }
        }
    }

    var connections: Int { opened.load(ordering: .relaxed) }

    func stop() {
        stopped.store(true, ordering: .relaxed)
    }
}
