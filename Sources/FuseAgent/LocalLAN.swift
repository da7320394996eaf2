import FuseModel
import FuseSystem

/// This host's LANs as an exposure sees them: the subnets of its links other than FUSE's own
/// (the WireGuard interface and the engine's bridges).
public enum LocalLAN {
    /// Checks an exposure target on the exposing host itself (the master checks the rest).
    public static func check(_ target: IPv4Address, interface: String, local: [LocalAddress]) throws {
        let engine = EngineNames(interface: interface)
        let fuseLinks: Set = ["lo", interface, engine.bridge, engine.gatewayBridge]
        try ExposureTarget.check(target, federationRanges: [], ownAddresses: local.map(\.address),
                                 lan: local.filter { !fuseLinks.contains($0.link) }.map(\.subnet))
    }
}
