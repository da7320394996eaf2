import Foundation
import FuseAgent
import FuseModel

/// The operator working from a host that is not the master (a laptop in the crisis domain):
/// `FUSE_MASTER=HOST:PORT` (the master's endpoint and API port), `FUSE_CA_PIN` (the master's
/// `fuse status --json` shows it as `caPin`) and `FUSE_ADMIN_CREDENTIAL` (the master's
/// `admin.credential` file). The CA is fetched and checked against the pin before the
/// credential is sent.
struct RemoteOperator: Equatable {
    let host: String
    let port: UInt16
    let pin: String?
    let credential: String?

    /// Nil without `FUSE_MASTER`.
    init?(environment: [String: String]) {
        guard let master = environment["FUSE_MASTER"], !master.isEmpty else { return nil }
        if let colon = master.lastIndex(of: ":"), let port = UInt16(master[master.index(after: colon)...]) {
            host = String(master[..<colon])
            self.port = port
        } else {
            host = master
            port = 0
        }
        // As `fuse master init` prints it (`sha256:HEX`) or as `fuse status --json` gives it (`HEX`).
        let pinText = environment["FUSE_CA_PIN"].map { $0.hasPrefix("sha256:") ? String($0.dropFirst(7)) : $0 }
        pin = pinText.flatMap { $0.isEmpty ? nil : $0 }
        credential = environment["FUSE_ADMIN_CREDENTIAL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func client(readTimeout: Duration) async throws -> ControlPlaneClient {
        guard !host.isEmpty, port > 0 else { throw CommandFailure("bad FUSE_MASTER: use HOST:PORT (the master's endpoint and API port)") }
        guard let pin, let credential else {
            throw CommandFailure("FUSE_MASTER needs FUSE_CA_PIN (the master's `fuse status --json`: caPin) and FUSE_ADMIN_CREDENTIAL (its admin.credential)")
        }
        let caPEM = try await Clients.with(try ControlPlaneClient(host: host, port: port, caPEM: nil)) { try await $0.fetchCA(pin: pin) }
        return try ControlPlaneClient(host: host, port: port, caPEM: caPEM, credential: credential, readTimeout: readTimeout)
    }
}
