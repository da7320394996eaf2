import FuseModel
import Testing

/// The kernel path's `wg` rendering and parsing (no kernel WireGuard on the build machines,
/// so these pure parts are what is tested here).
@Suite struct WireGuardCLITests {
    let hubPrivate = WireGuardKey(bytes: Array(repeating: 1, count: 32))!
    let workerPublic = WireGuardKey(bytes: Array(repeating: 2, count: 32))!
    let otherPublic = WireGuardKey(bytes: Array(repeating: 3, count: 32))!

    @Test func parsesDump() throws {
        let dump = """
            \(hubPrivate.base64)\t\(hubPrivate.publicKey.base64)\t51820\toff
            \(workerPublic.base64)\t(none)\t192.0.2.7:40000\t100.64.0.2/32\t1900000000\t1200\t3400\toff
            \(otherPublic.base64)\t(none)\t(none)\t(none)\t0\t0\t0\t25

            """
        let device = try WireGuardCLI.parseDump(dump)
        #expect(device.privateKey == hubPrivate)
        #expect(device.listenPort == 51820)
        #expect(device.peers.count == 2)
        #expect(device.peers[0].endpoint == "192.0.2.7:40000")
        #expect(device.peers[0].allowedIPs == [try IPv4CIDR(parsing: "100.64.0.2/32")])
        #expect(device.peers[0].lastHandshake == 1_900_000_000)
        #expect(device.peers[1].endpoint == nil && device.peers[1].allowedIPs.isEmpty && device.peers[1].persistentKeepalive == 25)
        #expect(throws: WireGuardCLI.ParseError.self) { try WireGuardCLI.parseDump("") }
    }

    @Test func rendersOnlyWhatDiffers() throws {
        let cidr = try IPv4CIDR(parsing: "100.64.0.2/32")
        let desired = WireGuardDevice(privateKey: hubPrivate, listenPort: 51820, peers: [
            WireGuardPeer(publicKey: workerPublic, endpoint: nil, allowedIPs: [cidr])])
        #expect(WireGuardCLI.renderSet(desired: desired, current: nil) == [
            "private-key", "/dev/stdin", "listen-port", "51820",
            "peer", workerPublic.base64, "persistent-keepalive", "off", "allowed-ips", "100.64.0.2/32"])
        var current = desired
        current.peers[0].lastHandshake = 1_900_000_000
        current.peers[0].endpoint = "192.0.2.7:40000"
        #expect(WireGuardCLI.renderSet(desired: desired, current: current) == nil, "a peer's roamed endpoint is left alone")
        current.peers.append(WireGuardPeer(publicKey: otherPublic, endpoint: nil, allowedIPs: []))
        #expect(WireGuardCLI.renderSet(desired: desired, current: current) == ["peer", otherPublic.base64, "remove"])
    }
}
