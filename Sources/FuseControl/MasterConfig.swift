import Foundation
import FuseModel

/// The federation's settings, fixed at `fuse master init`.
public struct MasterConfig: Codable, Equatable, Sendable {
    public var federation: String
    public var domain: String
    public var nodeName: String
    public var endpoint: String
    public var cidr: IPv4CIDR
    public var apiPort: UInt16
    public var wireGuardPort: UInt16
    public var interface: String
    public var adminCredentialDigest: String
    /// Where nodes' container engines get their subnets (a /24 each); nil: the federation
    /// runs no workloads.
    public var engineCIDR: IPv4CIDR?
    /// Swarm's pool for the overlay networks of deployments.
    public var overlayCIDR: IPv4CIDR?

    public init(federation: String, domain: String, nodeName: String, endpoint: String, cidr: IPv4CIDR, apiPort: UInt16, wireGuardPort: UInt16, interface: String, adminCredentialDigest: String,
                engineCIDR: IPv4CIDR? = nil, overlayCIDR: IPv4CIDR? = nil) {
        self.federation = federation
        self.domain = domain
        self.nodeName = nodeName
        self.endpoint = endpoint
        self.cidr = cidr
        self.apiPort = apiPort
        self.wireGuardPort = wireGuardPort
        self.interface = interface
        self.adminCredentialDigest = adminCredentialDigest
        self.engineCIDR = engineCIDR
        self.overlayCIDR = overlayCIDR
    }

    /// The federation's own ranges, which no exposure may point into.
    public var federationRanges: [(name: String, range: IPv4CIDR)] {
        [("VPN", cidr)] + [("engine", engineCIDR), ("overlay", overlayCIDR)].compactMap { name, range in range.map { (name, $0) } }
    }

    public var facts: FederationFacts {
        FederationFacts(name: federation, cidr: cidr, endpointHost: endpoint, wireGuardPort: wireGuardPort, apiPort: apiPort)
    }
}
