import Crypto
import Foundation
import FuseModel
import FuseSystem
import NIOSSL
import X509

/// The master's files under `STATE_DIR/master/`. Private keys and the operator's credential
/// are written with mode 0600.
public struct MasterState: Sendable {
    public let root: String
    public var directory: String { root + "/master" }

    public init(stateDir: String) { root = stateDir }

    public var configPath: String { directory + "/config.json" }
    public var caPath: String { directory + "/ca.pem" }
    public var caKeyPath: String { directory + "/ca-key.pem" }
    public var serverCertificatePath: String { directory + "/server.pem" }
    public var serverKeyPath: String { directory + "/server-key.pem" }
    public var databasePath: String { directory + "/fuse.db" }
    public var adminCredentialPath: String { directory + "/admin.credential" }
    public var pidPath: String { directory + "/master.pid" }
    public var logPath: String { directory + "/master.log" }
    /// Where the hub last saw each worker (`HubEndpoints`).
    public var hubEndpointsPath: String { directory + "/hub-endpoints.json" }

    public var exists: Bool { FileManager.default.fileExists(atPath: configPath) }

    public func loadConfig() throws -> MasterConfig {
        guard exists else { throw MasterStateError("no federation master here (no \(configPath)); run `fuse master init` first") }
        do {
            return try API.decoder().decode(MasterConfig.self, from: Data(contentsOf: URL(fileURLWithPath: configPath)))
        } catch {
            throw MasterStateError("\(configPath) is damaged: \(error)")
        }
    }

    public func adminCredential() throws -> String {
        do {
            return try String(contentsOfFile: adminCredentialPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw MasterStateError("cannot read the operator credential \(adminCredentialPath) (run this on the master, as root)")
        }
    }

    public func caPEM() throws -> String { try String(contentsOfFile: caPath, encoding: .utf8) }

    /// Creates the CA, the control plane's certificate, the store with the master's own node,
    /// and the operator's credential. On failure removes what it made.
    public func initialize(config draft: MasterConfig, masterPublicKey: WireGuardKey) throws {
        let fm = FileManager.default
        guard !exists else { throw MasterStateError("a federation master already exists in \(directory); `fuse master destroy` it first") }
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        do {
            guard let masterAddress = draft.cidr.firstHost else { throw MasterStateError("address range \(draft.cidr) has no host addresses") }
            let adminSecret = Secret.random(bytes: 32)
            var config = draft
            config.adminCredentialDigest = Secret.digest(adminSecret)
            let ca = try CertificateAuthority.create(federation: config.federation)
            let server = try ca.issueServerCertificate(hosts: [config.endpoint, masterAddress.description, "127.0.0.1", "localhost"])
            try write(ca.certificate.serializeAsPEM().pemString, to: caPath, mode: 0o644)
            try write(ca.key.pemRepresentation, to: caKeyPath, mode: 0o600)
            try write(server.certificate.serializeAsPEM().pemString, to: serverCertificatePath, mode: 0o644)
            try write(server.key.pemRepresentation, to: serverKeyPath, mode: 0o600)
            try write("admin:\(adminSecret)\n", to: adminCredentialPath, mode: 0o600)
            try save(config)
            let store = try SQLiteFederationStore(path: databasePath)
            let engineSubnet = try config.engineCIDR.map { try EngineSubnet.allocate(in: $0, excluding: []) }
            let master = NodeRecord(name: config.nodeName, domain: config.domain, address: masterAddress, publicKey: masterPublicKey, isMaster: true,
                                    engineSubnet: engineSubnet)
            // The master's agent runs in-process and needs no API credential: store an unusable one.
            try store.register(master: master, credentialDigest: Secret.digest(Secret.random()))
        } catch {
            try? fm.removeItem(atPath: directory)
            throw error
        }
    }

    /// Writes the settings (mode 0600, atomically).
    public func save(_ config: MasterConfig) throws {
        try write(String(decoding: try API.prettyEncoder().encode(config), as: UTF8.self), to: configPath, mode: 0o600)
    }

    public func caPin() throws -> String {
        guard let pin = CAPin.of(pem: try caPEM()) else { throw MasterStateError("\(caPath) is not a P-256 certificate") }
        return pin
    }

    /// The control plane's TLS settings: its certificate, issued by the federation's CA.
    public func tlsConfiguration() throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(serverCertificatePath) + NIOSSLCertificate.fromPEMFile(caPath)
        let key = try NIOSSLPrivateKey(file: serverKeyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        // Closing a connection waits this long for the client's close_notify; pooled clients
        // rarely send one, and NIOSSL's 5 s made every `master stop` wait 5 s.
        configuration.shutdownTimeout = .milliseconds(200)
        return configuration
    }

    public func removeAll() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func write(_ text: String, to path: String, mode: Int) throws {
        try AtomicFile.write(Data(text.utf8), to: path, mode: mode)
    }
}

public struct MasterStateError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
