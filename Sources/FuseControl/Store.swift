import Foundation
import FuseModel
import GRDB
import Synchronization

/// Why a join was refused. The messages are what the joining node sees.
public enum JoinRefusal: Error, Equatable, CustomStringConvertible {
    case invalidToken
    case tokenExpired
    case tokenRevoked
    case tokenUsed
    case nameTaken(String)
    case nameTakenByExposure(String)
    case keyTaken
    case exhausted(String)

    public var description: String {
        switch self {
        case .invalidToken: "invalid join token"
        case .tokenExpired: "join token has expired"
        case .tokenRevoked: "join token was revoked"
        case .tokenUsed: "join token has no uses left"
        case .nameTaken(let name): "a node named \(name) is already in the federation"
        case .nameTakenByExposure(let name): "\(name) is the name of an exposure in the federation; choose another node name"
        case .keyTaken: "this WireGuard key is already registered"
        case .exhausted(let message): message
        }
    }
}

/// Why an exposure was refused.
public enum ExposureRefusal: Error, Equatable, CustomStringConvertible {
    case nameTaken(String)
    case portTaken(node: String, proto: FlowProtocol, port: UInt16, by: String)
    case unknownNode(String)

    public var description: String {
        switch self {
        case .nameTaken(let name): "an exposure named \(name) already exists in the federation"
        case .portTaken(let node, let proto, let port, let other): "\(node) already exposes \(proto.rawValue) port \(port) (exposure \(other))"
        case .unknownNode(let node): "no node named \(node)"
        }
    }
}

/// A stored version of the federation's policy file.
public struct StoredPolicy: Equatable, Sendable {
    public let version: Int64
    public let text: String
    public let createdAt: Date
}

/// The master's registry: nodes, tokens and the network-map version. One writer at a time,
/// so that token consumption and address allocation are atomic.
public protocol FederationStore: Sendable {
    func register(master: NodeRecord, credentialDigest: String) throws
    /// Consumes a token and registers a node; with `engineRange`, also gives it an engine subnet.
    /// With `requestID`, a repeated request (same token, name, key and id) returns the node it
    /// registered, with `credentialDigest` as its new credential.
    func join(tokenID: String, secret: String, name: String, publicKey: WireGuardKey, credentialDigest: String, cidr: IPv4CIDR, engineRange: IPv4CIDR?,
              requestID: String?, now: Date) throws -> NodeRecord
    /// The Swarm node ID of a node's engine, once it joined the Swarm.
    func setSwarmID(_ id: String?, of node: String) throws
    func swarmID(of node: String) throws -> String?
    func nodes() throws -> [NodeRecord]
    /// The digest of a node's credential; `node` must be spelled exactly as stored.
    func credentialDigest(of node: String) throws -> String?
    func removeNode(_ name: String) throws -> Bool
    func addToken(_ token: JoinToken) throws
    func tokens() throws -> [JoinToken]
    func revokeToken(_ id: String) throws -> Bool
    func mapVersion() throws -> Int64
    /// A new map version for a change outside the store (the master's endpoint); returns it.
    func bumpMapVersion() throws -> Int64
    func addExposure(_ exposure: Exposure) throws
    /// Removes an exposure; with `node`, only when that node owns it.
    func removeExposure(_ name: String, node: String?) throws -> Bool
    func exposures() throws -> [Exposure]
    /// Stores a new policy version (the latest is in force) and returns its number.
    func setPolicy(_ text: String, now: Date) throws -> Int64
    func policy() throws -> StoredPolicy?
    /// The map version with the nodes, exposures and policy it stands for, read together.
    func federation() throws -> StoredFederation
    /// What this process changed after map version `version`, in order, up to the version
    /// returned (`StoreJournal`); nil when it does not know (then read `federation()`).
    func changes(after version: Int64) -> (version: Int64, changes: [FederationChange])?
    /// The latest map version this process made, without reading the database (nil before it
    /// made one).
    func latestVersionMade() -> Int64?
}

/// What every network map of one version is computed from.
public struct StoredFederation: Sendable {
    public let version: Int64
    public let nodes: [NodeRecord]
    public let exposures: [Exposure]
    public let policy: StoredPolicy?
}

/// The master's state dir has no room for a change; nothing was changed.
public struct StorageFull: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let freeBytes: Int64?

    public init(path: String) {
        self.path = path
        var stats = statvfs()
        freeBytes = statvfs(path, &stats) == 0 ? Int64(stats.f_bavail) * Int64(stats.f_frsize) : nil
    }

    public var description: String {
        "no space left in the master's state dir \(path) (\(freeBytes.map { "\($0) bytes" } ?? "unknown space") free); nothing was changed"
    }
}

/// SQLite (GRDB, WAL) under the master's state dir.
public final class SQLiteFederationStore: FederationStore {
    private let db: DatabasePool
    private let path: String
    /// The nodes' addresses, read once and kept by the writer (this store is the only one):
    /// a join must not parse every node's address to find a free one. An address stays here
    /// when its join rolled back (never given twice; reused after a restart).
    private let takenAddresses = Mutex<Set<IPv4Address>?>(nil)
    /// Each map version this process made, with what it changed; recorded once committed.
    private let journal = Mutex(StoreJournal())

    public init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(5)
        self.path = path
        db = try DatabasePool(path: path, configuration: config)
        try Self.migrator.migrate(db)
    }

    /// One write transaction: all of it or nothing (SQLite rolls back on any error). A full
    /// disk becomes `StorageFull`, naming the folder and its free space.
    private func write<T>(_ updates: (Database) throws -> T) throws -> T {
        do { return try db.write(updates) } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            throw StorageFull(path: (path as NSString).deletingLastPathComponent)
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE node (
                  name TEXT PRIMARY KEY COLLATE NOCASE, domain TEXT NOT NULL, address TEXT NOT NULL UNIQUE,
                  public_key TEXT NOT NULL UNIQUE, is_master INTEGER NOT NULL,
                  credential_digest TEXT NOT NULL, created_at REAL NOT NULL);
                CREATE TABLE token (
                  id TEXT PRIMARY KEY, secret_digest TEXT NOT NULL, domain TEXT NOT NULL,
                  created_at REAL NOT NULL, expires_at REAL NOT NULL, max_uses INTEGER NOT NULL,
                  uses INTEGER NOT NULL, revoked INTEGER NOT NULL);
                CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                INSERT INTO meta (key, value) VALUES ('map_version', 1);
                """)
        }
        migrator.registerMigration("v2-exposures-policy") { db in
            try db.execute(sql: """
                CREATE TABLE exposure (
                  name TEXT PRIMARY KEY COLLATE NOCASE, node TEXT NOT NULL COLLATE NOCASE, domain TEXT NOT NULL,
                  proto TEXT NOT NULL, port INTEGER NOT NULL, target TEXT NOT NULL, target_port INTEGER NOT NULL,
                  UNIQUE (node, proto, port));
                CREATE TABLE policy (version INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, created_at REAL NOT NULL);
                """)
        }
        migrator.registerMigration("v3-workloads") { db in
            try db.execute(sql: """
                ALTER TABLE node ADD COLUMN engine_subnet TEXT;
                ALTER TABLE node ADD COLUMN swarm_id TEXT;
                """)
        }
        migrator.registerMigration("v4-resumable-joins") { db in
            try db.execute(sql: "ALTER TABLE node ADD COLUMN join_request TEXT")
            try db.execute(sql: "ALTER TABLE node ADD COLUMN join_token TEXT")
        }
        return migrator
    }

    /// A new map version; returns it.
    private static func bumpVersion(_ db: Database) throws -> Int64 {
        try db.execute(sql: "UPDATE meta SET value = value + 1 WHERE key = 'map_version'")
        return try mapVersion(db)
    }

    /// A write that makes a new map version: `updates` returns its result and, when it made
    /// one, the version and what changed, which the journal records once the write committed.
    private func versioned<T>(_ updates: (Database) throws -> (T, (version: Int64, change: FederationChange)?)) throws -> T {
        let (result, made) = try write(updates)
        if let made { journal.withLock { $0.record(made.change, version: made.version) } }
        return result
    }

    private static func insert(_ node: NodeRecord, digest: String, at date: Date, _ db: Database) throws -> Int64 {
        try db.execute(
            sql: "INSERT INTO node (name, domain, address, public_key, is_master, credential_digest, created_at, engine_subnet) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            arguments: [node.name, node.domain, node.address.description, node.publicKey.base64, node.isMaster, digest, date.timeIntervalSince1970,
                        node.engineSubnet?.description])
        return try bumpVersion(db)
    }

    public func register(master: NodeRecord, credentialDigest: String) throws {
        try versioned { ((), (try Self.insert(master, digest: credentialDigest, at: Date(), $0), .other)) }
        takenAddresses.withLock { $0 = nil }
    }

    public func changes(after version: Int64) -> (version: Int64, changes: [FederationChange])? {
        journal.withLock { $0.changes(after: version) }
    }

    public func latestVersionMade() -> Int64? { journal.withLock { $0.latest } }

    public func join(tokenID: String, secret: String, name: String, publicKey: WireGuardKey, credentialDigest: String, cidr: IPv4CIDR, engineRange: IPv4CIDR?,
                     requestID: String?, now: Date) throws -> NodeRecord {
        // The address taken for this join, given back when its transaction rolls back.
        var allocated: IPv4Address?
        do {
            return try joinTransaction(tokenID: tokenID, secret: secret, name: name, publicKey: publicKey, credentialDigest: credentialDigest, cidr: cidr,
                                       engineRange: engineRange, requestID: requestID, now: now, allocated: &allocated)
        } catch {
            if let address = allocated { _ = takenAddresses.withLock { $0?.remove(address) } }
            throw error
        }
    }

    private func joinTransaction(tokenID: String, secret: String, name: String, publicKey: WireGuardKey, credentialDigest: String, cidr: IPv4CIDR,
                                 engineRange: IPv4CIDR?, requestID: String?, now: Date, allocated: inout IPv4Address?) throws -> NodeRecord {
        try versioned { db in
            guard let token = try Self.token(tokenID, db), token.matches(secret: secret) else { throw JoinRefusal.invalidToken }
            // Each check is one indexed query: a join must not read every node (it would get
            // slower as the federation grows, and joins write one at a time).
            if let requestID, let node = try Self.nodes(db, where: "name = ? AND public_key = ? AND join_token = ? AND join_request = ?",
                                                        [name, publicKey.base64, tokenID, requestID]).first {
                try db.execute(sql: "UPDATE node SET credential_digest = ? WHERE name = ?", arguments: [credentialDigest, node.name])
                return (node, nil)
            }
            switch token.state(at: now) {
            case .valid: break
            case .expired: throw JoinRefusal.tokenExpired
            case .revoked: throw JoinRefusal.tokenRevoked
            case .used: throw JoinRefusal.tokenUsed
            }
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM node WHERE name = ?", arguments: [name]) == nil else { throw JoinRefusal.nameTaken(name) }
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM exposure WHERE name = ?", arguments: [name]) == nil else {
                throw JoinRefusal.nameTakenByExposure(name)
            }
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM node WHERE public_key = ?", arguments: [publicKey.base64]) == nil else { throw JoinRefusal.keyTaken }
            let address: IPv4Address
            do {
                let taken = try takenAddresses.withLock { cached in
                    if cached == nil { cached = Set(try String.fetchAll(db, sql: "SELECT address FROM node").compactMap(IPv4Address.init)) }
                    return cached ?? []
                }
                address = try AddressAllocator(cidr: cidr).next(excluding: taken)
            } catch {
                throw JoinRefusal.exhausted("\(error)")
            }
            _ = takenAddresses.withLock { $0?.insert(address) }
            allocated = address
            var engineSubnet: IPv4CIDR?
            if let engineRange {
                do {
                    let taken = try String.fetchAll(db, sql: "SELECT engine_subnet FROM node WHERE engine_subnet IS NOT NULL").compactMap { try? IPv4CIDR(parsing: $0) }
                    engineSubnet = try EngineSubnet.allocate(in: engineRange, excluding: Set(taken))
                } catch {
                    throw JoinRefusal.exhausted("\(error)")
                }
            }
            let node = NodeRecord(name: name, domain: token.domain, address: address, publicKey: publicKey, isMaster: false, engineSubnet: engineSubnet)
            try db.execute(sql: "UPDATE token SET uses = uses + 1 WHERE id = ?", arguments: [tokenID])
            let version = try Self.insert(node, digest: credentialDigest, at: now, db)
            try db.execute(sql: "UPDATE node SET join_request = ?, join_token = ? WHERE name = ?", arguments: [requestID, tokenID, name])
            return (node, (version, .joined(node)))
        }
    }

    /// The nodes (with `filter`, those it selects), in the order they joined.
    private static func nodes(_ db: Database, where filter: String? = nil, _ arguments: StatementArguments = []) throws -> [NodeRecord] {
        let condition = filter.map { " WHERE " + $0 } ?? ""
        return try Row.fetchAll(db, sql: "SELECT name, domain, address, public_key, is_master, engine_subnet FROM node\(condition) ORDER BY created_at, name",
                                arguments: arguments).compactMap { row in
            guard let address = IPv4Address(row["address"] as String), let key = WireGuardKey(base64: row["public_key"]) else { return nil }
            let engineSubnet = (row["engine_subnet"] as String?).flatMap { try? IPv4CIDR(parsing: $0) }
            return NodeRecord(name: row["name"], domain: row["domain"], address: address, publicKey: key, isMaster: row["is_master"], engineSubnet: engineSubnet)
        }
    }

    public func nodes() throws -> [NodeRecord] { try db.read { try Self.nodes($0) } }

    public func credentialDigest(of node: String) throws -> String? {
        // A credential names its node exactly as the master issued it: no case folding here.
        try db.read { try String.fetchOne($0, sql: "SELECT credential_digest FROM node WHERE name = ? COLLATE BINARY", arguments: [node]) }
    }

    public func setSwarmID(_ id: String?, of node: String) throws {
        try write { try $0.execute(sql: "UPDATE node SET swarm_id = ? WHERE name = ?", arguments: [id, node]) }
    }

    public func swarmID(of node: String) throws -> String? {
        try db.read { try String.fetchOne($0, sql: "SELECT swarm_id FROM node WHERE name = ?", arguments: [node]) }
    }

    public func removeNode(_ name: String) throws -> Bool {
        let removed: IPv4Address?? = try versioned { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT name, address FROM node WHERE name = ? AND is_master = 0", arguments: [name]) else { return (nil, nil) }
            let stored: String = row["name"]
            try db.execute(sql: "DELETE FROM node WHERE name = ?", arguments: [stored])
            try db.execute(sql: "DELETE FROM exposure WHERE node = ?", arguments: [stored])
            return (.some(IPv4Address(row["address"] as String)), (try Self.bumpVersion(db), .left(stored)))
        }
        guard let removed else { return false }
        // Free for the next join once the removal is committed.
        if let removed { _ = takenAddresses.withLock { $0?.remove(removed) } }
        return true
    }

    public func addToken(_ token: JoinToken) throws {
        try write { db in
            try db.execute(
                sql: "INSERT INTO token (id, secret_digest, domain, created_at, expires_at, max_uses, uses, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [token.id, token.secretDigest, token.domain, token.createdAt.timeIntervalSince1970,
                            token.expiresAt.timeIntervalSince1970, token.maxUses, token.uses, token.revoked])
        }
    }

    private static func token(from row: Row) -> JoinToken {
        JoinToken(id: row["id"], secretDigest: row["secret_digest"], domain: row["domain"],
                  createdAt: Date(timeIntervalSince1970: row["created_at"]), expiresAt: Date(timeIntervalSince1970: row["expires_at"]),
                  maxUses: row["max_uses"], uses: row["uses"], revoked: row["revoked"])
    }

    private static func token(_ id: String, _ db: Database) throws -> JoinToken? {
        try Row.fetchOne(db, sql: "SELECT * FROM token WHERE id = ?", arguments: [id]).map(token(from:))
    }

    public func tokens() throws -> [JoinToken] {
        try db.read { try Row.fetchAll($0, sql: "SELECT * FROM token ORDER BY created_at").map(Self.token(from:)) }
    }

    public func revokeToken(_ id: String) throws -> Bool {
        try write { db in
            try db.execute(sql: "UPDATE token SET revoked = 1 WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    private static func mapVersion(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'map_version'") ?? 1
    }

    public func mapVersion() throws -> Int64 { try db.read(Self.mapVersion) }

    public func bumpMapVersion() throws -> Int64 {
        try versioned { db in
            let version = try Self.bumpVersion(db)
            return (version, (version, .other))
        }
    }

    public func federation() throws -> StoredFederation {
        try db.read { db in
            StoredFederation(version: try Self.mapVersion(db), nodes: try Self.nodes(db), exposures: try Self.exposures(db), policy: try Self.policy(db))
        }
    }

    public func addExposure(_ exposure: Exposure) throws {
        try versioned { db in
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM node WHERE name = ?", arguments: [exposure.node]) != nil else {
                throw ExposureRefusal.unknownNode(exposure.node)
            }
            if let existing = try String.fetchOne(db, sql: "SELECT name FROM exposure WHERE name = ?", arguments: [exposure.name]) {
                throw ExposureRefusal.nameTaken(existing)
            }
            if let other = try String.fetchOne(db, sql: "SELECT name FROM exposure WHERE node = ? AND proto = ? AND port = ?",
                                               arguments: [exposure.node, exposure.proto.rawValue, exposure.port]) {
                throw ExposureRefusal.portTaken(node: exposure.node, proto: exposure.proto, port: exposure.port, by: other)
            }
            try db.execute(
                sql: "INSERT INTO exposure (name, node, domain, proto, port, target, target_port) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [exposure.name, exposure.node, exposure.domain, exposure.proto.rawValue, exposure.port,
                            exposure.target.description, exposure.targetPort])
            return ((), (try Self.bumpVersion(db), .exposed(exposure)))
        }
    }

    public func removeExposure(_ name: String, node: String?) throws -> Bool {
        try versioned { db in
            if let node {
                try db.execute(sql: "DELETE FROM exposure WHERE name = ? AND node = ?", arguments: [name, node])
            } else {
                try db.execute(sql: "DELETE FROM exposure WHERE name = ?", arguments: [name])
            }
            guard db.changesCount > 0 else { return (false, nil) }
            return (true, (try Self.bumpVersion(db), .unexposed(name)))
        }
    }

    private static func exposures(_ db: Database) throws -> [Exposure] {
        try Row.fetchAll(db, sql: "SELECT * FROM exposure ORDER BY node, port, name").compactMap { row in
            guard let proto = FlowProtocol(rawValue: row["proto"]), let target = IPv4Address(row["target"] as String) else { return nil }
            return Exposure(name: row["name"], node: row["node"], domain: row["domain"], proto: proto, port: row["port"],
                            target: target, targetPort: row["target_port"])
        }
    }

    public func exposures() throws -> [Exposure] { try db.read(Self.exposures) }

    public func setPolicy(_ text: String, now: Date) throws -> Int64 {
        try versioned { db in
            try db.execute(sql: "INSERT INTO policy (text, created_at) VALUES (?, ?)", arguments: [text, now.timeIntervalSince1970])
            let version = db.lastInsertedRowID
            return (version, (try Self.bumpVersion(db), .other))
        }
    }

    private static func policy(_ db: Database) throws -> StoredPolicy? {
        try Row.fetchOne(db, sql: "SELECT * FROM policy ORDER BY version DESC LIMIT 1").map {
            StoredPolicy(version: $0["version"], text: $0["text"], createdAt: Date(timeIntervalSince1970: $0["created_at"]))
        }
    }

    public func policy() throws -> StoredPolicy? { try db.read(Self.policy) }
}
