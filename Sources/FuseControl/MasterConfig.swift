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

    public init(federation: String, domain: String, nodeName: String, endpoint: String, cidr: IPv4CIDR, apiPort: UInt16, wireGuardPort: UInt16, interface: String, adminCredentialDigest: String) {
        self.federation = federation
        self.domain = domain
        self.nodeName = nodeName
        self.endpoint = endpoint
        self.cidr = cidr
        self.apiPort = apiPort
        self.wireGuardPort = wireGuardPort
        self.interface = interface
        self.adminCredentialDigest = adminCredentialDigest
    }

    public var facts: FederationFacts {
        FederationFacts(name: federation, cidr: cidr, endpointHost: endpoint, wireGuardPort: wireGuardPort, apiPort: apiPort)
    }
}
