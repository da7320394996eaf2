import Foundation
import FuseModel
import FuseSystem
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// The master's end of the relay (`POST /v1/relay`, a node's credential): WireGuard datagrams
/// of a node whose domain blocks UDP arrive framed (`RelayFraming`) in the request body and go
/// to the hub's WireGuard port on 127.0.0.1 from a UDP socket of this stream's own, so that the
/// hub sees each relayed node at an address of its own; what the hub sends back there goes into
/// the response body. The relay only moves packets: WireGuard's encryption stays end to end,
/// and the hub's cryptokey routing drops whatever a node sends with another node's address.
/// One stream per node (a newer one ends the older); a node that leaves or is removed loses its
/// stream at once; a protocol error (an oversized frame) ends the stream.
public final class HubRelay: Sendable {
    /// Streams carried at once, at most.
    public static let maxStreams = 4096

    let hubPort: Int
    private struct Stream: Sendable {
        let id: UInt64
        let outbox: RelayOutbox
    }
    private let streams = Mutex<(next: UInt64, byNode: [String: Stream])>((0, [:]))

    public init(hubPort: Int) { self.hubPort = hubPort }

    /// The nodes whose streams are open now.
    public var relayedNodes: [String] { streams.withLock { $0.byNode.keys.sorted() } }

    /// Ends a node's stream (it left, it was removed).
    public func end(_ node: String) {
        streams.withLock { $0.byNode.removeValue(forKey: node) }?.outbox.close()
    }

    private func open(_ node: String, _ outbox: RelayOutbox) throws -> UInt64 {
        let (id, replaced) = try streams.withLock { state -> (UInt64, Stream?) in
            guard state.byNode.count < Self.maxStreams || state.byNode[node] != nil else { throw RelayError.full }
            state.next += 1
            let replaced = state.byNode[node]
            state.byNode[node] = Stream(id: state.next, outbox: outbox)
            return (state.next, replaced)
        }
        replaced?.outbox.close()
        return id
    }

    /// Unregisters a stream; false when it had been ended or replaced already.
    @discardableResult
    private func close(_ node: String, id: UInt64) -> Bool {
        streams.withLock { state in
            guard state.byNode[node]?.id == id else { return false }
            state.byNode.removeValue(forKey: node)
            return true
        }
    }

    /// Carries one node's stream until either side ends it, the node's stream is ended (`end`,
    /// or a newer stream: `connection` is closed, whatever the client still sends), or a frame
    /// is malformed (thrown: the connection closes).
    func serve(node: String, body: RequestBody, writer: inout any ResponseBodyWriter, connection: any Channel) async throws {
        let outbox = RelayOutbox()
        let id = try open(node, outbox)
        defer {
            close(node, id: id)
            outbox.close()
        }
        let hub = try SocketAddress(ipAddress: "127.0.0.1", port: hubPort)
        let socket = try await DatagramSocket.bind(host: "127.0.0.1") { datagram, from in
            // Only the hub's answers: anything else on this loopback socket is not the node's.
            guard from.port == hub.port else { return }
            outbox.send(datagram)
        }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    defer { outbox.close() }
                    var decoder = RelayFrameDecoder()
                    for try await chunk in body { socket.send(try decoder.feed(chunk), to: hub) }
                }
                group.addTask {
                    defer { outbox.close() }
                    while !Task.isCancelled {
                        try await Task.sleep(for: RelayFraming.keepaliveInterval)
                        outbox.sendKeepalive()
                    }
                }
                for await chunk in outbox { try await writer.write(chunk) }
                // Ended (the node left or was removed) or replaced by a newer stream: the
                // connection closes, which also ends the reader waiting for the client's next chunk.
                let ended = !close(node, id: id)
                if ended { connection.close(promise: nil) }
                group.cancelAll()
                try await group.waitForAll()
                if ended { throw RelayError.ended }
            }
        } catch {
            await socket.close()
            throw error
        }
        await socket.close()
    }
}

public enum RelayError: Error, CustomStringConvertible, Sendable {
    case full
    case ended

    public var description: String {
        switch self {
        case .full: "the relay carries \(HubRelay.maxStreams) streams already"
        case .ended: "the relay stream was ended (node removed, or a newer stream)"
        }
    }
}

/// `POST /v1/relay`.
enum RelayRoutes {
    static func add(to on: DashboardRoutes.Add, _ controlPlane: ControlPlane) {
        on(.post, "/v1/relay", .node) { request, context in
            let node = try context.node()
            controlPlane.logger.info("relay stream opened", metadata: ["node": "\(node)"])
            return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init { writer in
                defer { controlPlane.logger.info("relay stream closed", metadata: ["node": "\(node)"]) }
                try await controlPlane.relay.serve(node: node, body: request.body, writer: &writer, connection: context.connection)
                try await writer.finish(nil)
            })
        }
    }
}
