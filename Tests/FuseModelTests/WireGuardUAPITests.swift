import Foundation
import FuseModel
import Testing

@Suite struct WireGuardUAPITests {
    let hex11 = String(repeating: "11", count: 32)
    let hexAA = String(repeating: "aa", count: 32)
    let hexBB = String(repeating: "bb", count: 32)
    let hexCC = String(repeating: "cc", count: 32)

    var hubPeer: WireGuardPeer {
        WireGuardPeer(publicKey: key(0xaa), endpoint: "203.0.113.10:51820", allowedIPs: [try! IPv4CIDR(parsing: "100.64.0.0/16")], persistentKeepalive: 25)
    }
    var inboundPeer: WireGuardPeer {
        WireGuardPeer(publicKey: key(0xbb), endpoint: nil,
                      allowedIPs: [try! IPv4CIDR(parsing: "100.64.0.2/32"), try! IPv4CIDR(parsing: "10.1.0.0/24")])
    }
    var desired: WireGuardDevice { WireGuardDevice(privateKey: key(0x11), listenPort: 51820, peers: [hubPeer, inboundPeer]) }

    @Test func fullRequestFromNothing() {
        let expected = """
            set=1
            private_key=\(hex11)
            listen_port=51820
            public_key=\(hexAA)
            endpoint=203.0.113.10:51820
            persistent_keepalive_interval=25
            replace_allowed_ips=true
            allowed_ip=100.64.0.0/16
            public_key=\(hexBB)
            persistent_keepalive_interval=0
            replace_allowed_ips=true
            allowed_ip=100.64.0.2/32
            allowed_ip=10.1.0.0/24


            """
        #expect(WireGuardUAPI.renderSet(desired: desired, current: nil) == expected)
        #expect(expected.hasSuffix("\n\n"))
    }

    @Test func desiredStateGivesNoRequest() {
        #expect(WireGuardUAPI.renderSet(desired: desired, current: desired) == nil)
        // Order of peers and of allowed IPs does not matter; read-back-only fields neither.
        var current = desired
        current.peers.reverse()
        current.peers[0].allowedIPs.reverse()
        current.peers[0].lastHandshake = 1_900_000_000
        #expect(WireGuardUAPI.renderSet(desired: desired, current: current) == nil)
    }

    @Test func removedPeer() {
        var current = desired
        current.peers.append(WireGuardPeer(publicKey: key(0xcc), endpoint: "198.51.100.1:4000", allowedIPs: [try! IPv4CIDR(parsing: "100.64.0.3/32")]))
        #expect(WireGuardUAPI.renderSet(desired: desired, current: current) == "set=1\npublic_key=\(hexCC)\nremove=true\n\n")
    }

    @Test func changedEndpointOnly() {
        var current = desired
        current.peers[0].endpoint = "203.0.113.99:51820"
        #expect(WireGuardUAPI.renderSet(desired: desired, current: current) == "set=1\npublic_key=\(hexAA)\nendpoint=203.0.113.10:51820\n\n")
    }

    @Test func changedAllowedIPsReplacesThem() {
        var current = desired
        current.peers[1].allowedIPs = [try! IPv4CIDR(parsing: "100.64.0.2/32")]
        #expect(WireGuardUAPI.renderSet(desired: desired, current: current)
            == "set=1\npublic_key=\(hexBB)\nreplace_allowed_ips=true\nallowed_ip=100.64.0.2/32\nallowed_ip=10.1.0.0/24\n\n")
    }

    @Test func changedPrivateKeyOnly() {
        var current = desired
        current.privateKey = key(0x22)
        #expect(WireGuardUAPI.renderSet(desired: desired, current: current) == "set=1\nprivate_key=\(hex11)\n\n")
    }

    @Test func workerNeverEmitsListenPort() {
        let worker = WireGuardDevice(privateKey: key(0x11), listenPort: nil, peers: [hubPeer])
        let fresh = WireGuardUAPI.renderSet(desired: worker, current: nil)
        #expect(fresh == """
            set=1
            private_key=\(hex11)
            public_key=\(hexAA)
            endpoint=203.0.113.10:51820
            persistent_keepalive_interval=25
            replace_allowed_ips=true
            allowed_ip=100.64.0.0/16


            """)
        // wireguard-go picked a random port: that is left alone.
        var current = worker
        current.listenPort = 43_210
        #expect(WireGuardUAPI.renderSet(desired: worker, current: current) == nil)
        current.peers = []
        let request = WireGuardUAPI.renderSet(desired: worker, current: current)
        #expect(request?.contains("listen_port") == false)
    }

    @Test func hubIgnoresRoamingEndpointsOfInboundPeers() {
        // The hub does not dial its workers; the endpoint it reads back is wherever they came from.
        let hub = WireGuardDevice(privateKey: key(0x11), listenPort: 51820, peers: [inboundPeer])
        var readBack = hub
        readBack.peers[0].endpoint = "198.51.100.7:40000"
        readBack.peers[0].lastHandshake = 1_900_000_000
        #expect(WireGuardUAPI.renderSet(desired: hub, current: readBack) == nil)
    }

    static let realisticAnswer = """
        private_key=\(String(repeating: "11", count: 32))
        listen_port=51820
        fwmark=0
        public_key=\(String(repeating: "aa", count: 32))
        preshared_key=0000000000000000000000000000000000000000000000000000000000000000
        protocol_version=1
        endpoint=198.51.100.7:40000
        last_handshake_time_sec=1900000123
        last_handshake_time_nsec=456000000
        tx_bytes=1184
        rx_bytes=2316
        persistent_keepalive_interval=0
        allowed_ip=100.64.0.2/32
        allowed_ip=fd00::2/128
        public_key=\(String(repeating: "bb", count: 32))
        preshared_key=0000000000000000000000000000000000000000000000000000000000000000
        protocol_version=1
        last_handshake_time_sec=0
        last_handshake_time_nsec=0
        tx_bytes=0
        rx_bytes=0
        persistent_keepalive_interval=25
        allowed_ip=100.64.0.3/32
        errno=0


        """

    @Test func parsesRealisticGetAnswer() throws {
        let device = try WireGuardUAPI.parseGet(Self.realisticAnswer)
        #expect(device == WireGuardDevice(privateKey: key(0x11), listenPort: 51820, peers: [
            WireGuardPeer(publicKey: key(0xaa), endpoint: "198.51.100.7:40000", allowedIPs: [try IPv4CIDR(parsing: "100.64.0.2/32")],
                          persistentKeepalive: 0, lastHandshake: 1_900_000_123),
            WireGuardPeer(publicKey: key(0xbb), endpoint: nil, allowedIPs: [try IPv4CIDR(parsing: "100.64.0.3/32")],
                          persistentKeepalive: 25, lastHandshake: 0),
        ]))
    }

    @Test func parsesEmptyDevice() throws {
        #expect(try WireGuardUAPI.parseGet("listen_port=40000\nfwmark=0\nerrno=0\n\n")
            == WireGuardDevice(privateKey: nil, listenPort: 40000, peers: []))
    }

    @Test func getErrors() {
        expectThrowing(WireGuardUAPI.ParseError.self, "uapi: get failed with errno 1") {
            try WireGuardUAPI.parseGet("errno=1\n\n")
        }
        expectThrowing(WireGuardUAPI.ParseError.self, "uapi: answer without errno") {
            try WireGuardUAPI.parseGet("listen_port=1\n\n")
        }
        #expect(throws: WireGuardUAPI.ParseError.self) { try WireGuardUAPI.parseGet("garbage\nerrno=0\n\n") }
        #expect(throws: WireGuardUAPI.ParseError.self) { try WireGuardUAPI.parseGet("public_key=zz\nerrno=0\n\n") }
    }

    @Test func setAnswer() throws {
        try WireGuardUAPI.parseSetAnswer("errno=0\n\n")
        expectThrowing(WireGuardUAPI.ParseError.self, "uapi: set failed with errno 22") {
            try WireGuardUAPI.parseSetAnswer("errno=22\n\n")
        }
        #expect(throws: WireGuardUAPI.ParseError.self) { try WireGuardUAPI.parseSetAnswer("\n") }
    }

    @Test func applyThenReadBackIsIdempotent() throws {
        var device = FakeUAPIDevice()
        // From nothing to the desired state, then read back: no further request.
        try device.apply(#require(WireGuardUAPI.renderSet(desired: desired, current: nil)))
        let readBack = try WireGuardUAPI.parseGet(device.getAnswer())
        #expect(WireGuardUAPI.renderSet(desired: desired, current: readBack) == nil)

        // A second state (one peer gone, one new, one changed) reached from the read-back state.
        var next = desired
        next.peers.removeFirst()
        next.peers[0].allowedIPs = [try IPv4CIDR(parsing: "100.64.0.2/32")]
        next.peers.append(WireGuardPeer(publicKey: key(0xcc), endpoint: "203.0.113.5:51820", allowedIPs: [try IPv4CIDR(parsing: "100.64.0.0/16")], persistentKeepalive: 25))
        try device.apply(#require(WireGuardUAPI.renderSet(desired: next, current: readBack)))
        let readBack2 = try WireGuardUAPI.parseGet(device.getAnswer())
        #expect(WireGuardUAPI.renderSet(desired: next, current: readBack2) == nil)
        #expect(readBack2.peers.map(\.publicKey) == [key(0xbb), key(0xcc)])
        #expect(readBack2.peers[0].allowedIPs == [try IPv4CIDR(parsing: "100.64.0.2/32")])
    }

    @Test func theDeviceAfterApplyingIsWhatReadingItBackGives() throws {
        // The hub applies the next map against the device as it left it (no read-back of every
        // peer): that must be the device a read would give, so the next request is the same.
        var device = FakeUAPIDevice()
        try device.apply(#require(WireGuardUAPI.renderSet(desired: desired, current: nil)))
        var current = try WireGuardUAPI.parseGet(device.getAnswer())
        current.peers[1].endpoint = "198.51.100.7:40000"  // where the inbound peer came from
        current.peers[1].lastHandshake = 1_900_000_000
        device.peers[1].endpoint = "198.51.100.7:40000"
        var next = desired
        next.peers.removeFirst()
        next.peers[0].allowedIPs = [try IPv4CIDR(parsing: "100.64.0.2/32")]
        next.peers.append(WireGuardPeer(publicKey: key(0xcc), endpoint: nil, allowedIPs: [try IPv4CIDR(parsing: "100.64.0.3/32")],
                                        fallbackEndpoint: "198.51.100.8:40001"))
        try device.apply(#require(WireGuardUAPI.renderSet(desired: next, current: current)))
        let after = current.afterApplying(next)
        let readBack = try WireGuardUAPI.parseGet(device.getAnswer())
        #expect(WireGuardUAPI.renderSet(desired: next, current: after) == nil)
        #expect(after.peers.map(\.publicKey) == [key(0xbb), key(0xcc)])
        #expect(after.peers[0].lastHandshake == 1_900_000_000)
        #expect(after.peers.map(\.endpoint) == ["198.51.100.7:40000", "198.51.100.8:40001"])
        for peer in after.peers {
            let read = try #require(readBack.peers.first { $0.publicKey == peer.publicKey })
            #expect(read.endpoint == peer.endpoint && read.allowedIPs == peer.allowedIPs && read.persistentKeepalive == peer.persistentKeepalive)
        }
        #expect(after.privateKey == readBack.privateKey)
    }
}

/// A minimal model of wireguard-go's UAPI semantics, to check requests against.
struct FakeUAPIDevice {
    var privateKey: String?
    var listenPort: String?
    var peers: [(key: String, endpoint: String?, keepalive: String, allowed: [String])] = []

    mutating func apply(_ request: String) throws {
        #expect(request.hasPrefix("set=1\n"))
        #expect(request.hasSuffix("\n\n"))
        var current: Int?
        for line in request.split(separator: "\n").dropFirst() {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            try #require(parts.count == 2, "bad line \(line)")
            let (key, value) = (parts[0], parts[1])
            switch key {
            case "private_key": privateKey = value
            case "listen_port": listenPort = value
            case "public_key":
                if let index = peers.firstIndex(where: { $0.key == value }) { current = index } else {
                    peers.append((value, nil, "0", []))
                    current = peers.count - 1
                }
            case "remove":
                let index = try #require(current)
                peers.remove(at: index)
                current = nil
            case "endpoint": peers[try #require(current)].endpoint = value
            case "persistent_keepalive_interval": peers[try #require(current)].keepalive = value
            case "replace_allowed_ips": peers[try #require(current)].allowed = []
            case "allowed_ip": peers[try #require(current)].allowed.append(value)
            default: Issue.record("unexpected key \(key)")
            }
        }
    }

    func getAnswer() -> String {
        var lines: [String] = []
        if let privateKey { lines.append("private_key=\(privateKey)") }
        lines.append("listen_port=\(listenPort ?? "39999")")
        for peer in peers {
            lines.append("public_key=\(peer.key)")
            if let endpoint = peer.endpoint { lines.append("endpoint=\(endpoint)") }
            lines.append("last_handshake_time_sec=0")
            lines.append("persistent_keepalive_interval=\(peer.keepalive)")
            lines += peer.allowed.map { "allowed_ip=\($0)" }
        }
        lines.append("errno=0")
        return lines.joined(separator: "\n") + "\n\n"
    }
}
