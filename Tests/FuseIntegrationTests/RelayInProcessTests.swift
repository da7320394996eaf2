import Foundation
import FuseAgent
import FuseControl
import FuseModel
import FuseSystem
import Logging
import NIOCore
import Synchronization
import Testing

/// The relay end to end in one process: the real master process (its relay route over HTTPS on
/// loopback, its UDP probe responder) and real relay links as node daemons run them, with a UDP
/// echo in place of the hub's wireguard-go and a socket per node in place of its WireGuard. The
/// lab tests (RelayLabTests) cover the same with real tunnels and firewalls.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct RelayInProcessTests {
    static let logger = Logger(label: "relay-tests") { _ in SwiftLogNoOpLogHandler() }

    /// A UDP socket that sends every datagram back to where it came from.
    static func echo(port: Int) async throws -> DatagramSocket {
        let socket = Mutex<DatagramSocket?>(nil)
        let bound = try await DatagramSocket.bind(host: "127.0.0.1", port: port) { datagram, from in socket.withLock { $0 }?.send(datagram, to: from) }
        socket.withLock { $0 = bound }
        return bound
    }

    /// A node enrolled over the API; its relay link, over its own credential.
    static func relayedNode(_ federation: InProcessFederation, name: String, probing: Bool = false) async throws -> (RelayLink, ControlPlaneClient) {
        let join = try JoinString(parsing: try await federation.joinString(domain: "companyC"))
        let caPEM = try federation.master.caPEM()
        let anonymous = try ControlPlaneClient(host: "127.0.0.1", port: federation.apiPort, caPEM: caPEM)
        let joined = try await ControlPlaneClient.using(anonymous) {
            try await $0.join(API.JoinRequest(token: "\(join.tokenID).\(join.secret)", name: name, publicKey: WireGuardKey.generatePrivate().publicKey))
        }
        let client = try ControlPlaneClient(host: "127.0.0.1", port: federation.apiPort, caPEM: caPEM, credential: joined.credential,
                                            readTimeout: .seconds(60), maxConnections: 1)
        let link = RelayLink(transport: client, probing: probing, logger: logger)
        try await link.start()
        return (link, client)
    }

    @Test func manyRelayedNodesAtOnceEachGetOnlyTheirOwnDatagrams() async throws {
        try await InProcessFederation.with { federation in
            let hub = try await Self.echo(port: 51999)
            let count = 24, perNode = 40
            var nodes: [(RelayLink, ControlPlaneClient)] = []
            for index in 0..<count {
                let (link, client) = try await Self.relayedNode(federation, name: "c\(index)")
                link.setHub("127.0.0.1:51999")
                link.setPath(.relay)
                nodes.append((link, client))
            }
            // Per node, what came back to its "WireGuard" socket.
            let received = Mutex([[String]](repeating: [], count: count))
            var wireGuards: [DatagramSocket] = []
            for index in 0..<count {
                wireGuards.append(try await DatagramSocket.bind(host: "127.0.0.1") { datagram, _ in
                    received.withLock { $0[index].append(String(buffer: datagram)) }
                })
            }
            let runs = nodes.map { link, _ in Task { try await link.run() } }
            for round in 0..<perNode {
                for (index, (link, _)) in nodes.enumerated() {
                    let port = try #require(link.localEndpoint?.split(separator: ":").last.flatMap { Int($0) })
                    let endpoint = try SocketAddress(ipAddress: "127.0.0.1", port: port)
                    wireGuards[index].send(ByteBuffer(string: "node-\(index)-\(round)"), to: endpoint)
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            let allBack = await waitFor(.seconds(20), every: .milliseconds(50)) {
                received.withLock { $0.allSatisfy { $0.count >= perNode } }
            }
            let got = received.withLock { $0 }
            #expect(allBack, "every node's datagrams came back through the relay: \(got.map(\.count))")
            for (index, datagrams) in got.enumerated() {
                #expect(datagrams.allSatisfy { $0.hasPrefix("node-\(index)-") }, "node \(index) got only its own: \(datagrams.prefix(3))")
                #expect(Set(datagrams).count == datagrams.count, "node \(index) got each datagram once")
            }
            for run in runs { run.cancel() }
            for run in runs { _ = await run.result }
            for (link, client) in nodes {
                await link.stop()
                await client.shutdown()
            }
            for socket in wireGuards { await socket.close() }
            await hub.close()
        }
    }

    @Test func theMasterAnswersProbesOnlyAndARelayedLinkHearsItsAnswer() async throws {
        try await InProcessFederation.with { federation in
            let responder = try SocketAddress(ipAddress: "127.0.0.1", port: Int(federation.apiPort))
            let answers = Mutex<[[UInt8]]>([])
            let socket = try await DatagramSocket.bind(host: "127.0.0.1") { datagram, from in
                if from == responder { answers.withLock { $0.append(Array(datagram.readableBytesView)) } }
            }
            let probe = UDPProbe.datagram(nonce: 42)
            let notProbes: [[UInt8]] = [[1, 0, 0, 0] + Array(repeating: 7, count: 144), Array(probe.dropLast()), probe + [0], []]
            for datagram in notProbes { socket.send(ByteBuffer(bytes: datagram), to: responder) }
            socket.send(ByteBuffer(bytes: probe), to: responder)
            #expect(await waitFor(.seconds(5)) { !answers.withLock { $0 }.isEmpty }, "a probe is answered")
            try await Task.sleep(for: .milliseconds(200))
            #expect(answers.withLock { $0 } == [probe], "with exactly its own bytes, and nothing else is")

            // A flood from one sender (a fresh one: its own budget) is answered at most at that
            // budget; another sender is still answered.
            let flooded = Mutex(0)
            let flooder = try await DatagramSocket.bind(host: "127.0.0.1") { _, from in if from == responder { flooded.withLock { $0 += 1 } } }
            let flood = 200
            for nonce in 0..<flood { flooder.send(ByteBuffer(bytes: UDPProbe.datagram(nonce: UInt64(nonce))), to: responder) }
            let other = Mutex(0)
            let second = try await DatagramSocket.bind(host: "127.0.0.1") { _, from in if from == responder { other.withLock { $0 += 1 } } }
            second.send(ByteBuffer(bytes: probe), to: responder)
            #expect(await waitFor(.seconds(5)) { other.withLock { $0 } == 1 }, "another sender is answered during the flood")
            try await Task.sleep(for: .milliseconds(300))
            let answered = flooded.withLock { $0 }
            #expect(answered > 0 && answered <= 3 * UDPProbe.answersPerSecondPerSender, "\(answered) of \(flood) from one sender answered")
            for sender in [socket, flooder, second] { await sender.close() }

            // A relayed, probing link whose "hub" address is where the responder answers: it
            // hears the answer (its own nonce) and reports that UDP passes.
            let (link, client) = try await Self.relayedNode(federation, name: "p1", probing: true)
            link.setHub("127.0.0.1:\(federation.apiPort)")
            link.setPath(.relay)
            link.probeIfDue()
            #expect(await waitFor(.seconds(5)) { link.takeDirectAnswer() }, "the link hears the master's answer")
            link.setPath(.direct)
            link.probeIfDue()
            try await Task.sleep(for: .milliseconds(300))
            #expect(!link.takeDirectAnswer(), "no probes once direct")
            await link.stop()
            await client.shutdown()
        }
    }
}
