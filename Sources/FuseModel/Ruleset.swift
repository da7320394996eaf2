/// The nftables table that FUSE owns on a node. Until policies exist it only keeps the
/// federation from routing into the node's LAN: nothing is forwarded between the WireGuard
/// interface and any other interface; the hub forwards only from tunnel to tunnel.
public enum NodeRuleset {
    /// One table per interface, so that two nodes in one network namespace never collide.
    public static func tableName(interface: String) -> String {
        "fuse_" + String(interface.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    /// The whole table, replaced atomically when fed to `nft -f`.
    public static func render(interface: String, isHub: Bool) -> String {
        let table = tableName(interface: interface)
        var forward = [
            "type filter hook forward priority filter; policy accept;",
        ]
        if isHub { forward.append("iifname \"\(interface)\" oifname \"\(interface)\" accept") }
        forward += [
            "iifname \"\(interface)\" drop",
            "oifname \"\(interface)\" drop",
        ]
        return """
            table inet \(table)
            delete table inet \(table)
            table inet \(table) {
              chain forward {
            \(forward.map { "    " + $0 }.joined(separator: "\n"))
              }
            }

            """
    }
}
