import FuseModel
import Synchronization

/// `NAME.DOMAIN.fuse` → the VPN address of that node, or of the node that exposes NAME: the
/// DNS responder's table. Built from the current snapshot at the first lookup after a change,
/// not at every change (at 2,000 nodes, a rebuild per join was a tenth of the master's CPU
/// while nodes joined one by one).
final class NameTable: Sendable {
    private let built = Mutex<(version: Int64, table: [String: IPv4Address])?>(nil)

    func resolve(_ name: String, in snapshot: FederationSnapshot) -> IPv4Address? {
        built.withLock { built in
            if built?.version != snapshot.version { built = (snapshot.version, Self.table(of: snapshot)) }
            return built?.table[name.lowercased()]
        }
    }

    static func table(of snapshot: FederationSnapshot) -> [String: IPv4Address] {
        let byName = Dictionary(snapshot.nodes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var table: [String: IPv4Address] = [:]
        for exposure in snapshot.exposures {
            if let owner = byName[exposure.node] {
                table["\(exposure.name).\(exposure.domain).fuse".lowercased()] = owner.address
            }
        }
        // A node's own name always wins.
        for node in snapshot.nodes { table["\(node.name).\(node.domain).fuse".lowercased()] = node.address }
        return table
    }
}
