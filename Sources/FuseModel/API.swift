import Foundation

/// Bodies of the control plane's HTTP API (see `openapi.json`), shared by server and client.
public enum API {
    public struct JoinRequest: Codable, Sendable {
        public let token: String
        public let name: String
        public let publicKey: WireGuardKey
        /// Whether the node runs a container engine for the federation (absent: no).
        public let workloads: Bool?
        /// Chosen by the node before its first attempt: the same request again (same name, key
        /// and id, after a crash or a lost answer) completes the same enrolment with a new
        /// credential instead of being refused as a used token.
        public let requestID: String?
        public init(token: String, name: String, publicKey: WireGuardKey, workloads: Bool? = nil, requestID: String? = nil) {
            self.token = token
            self.name = name
            self.publicKey = publicKey
            self.workloads = workloads
            self.requestID = requestID
        }
    }

    /// A node's engine joined the Swarm with this node ID.
    public struct SwarmNode: Codable, Sendable {
        public let id: String
        public init(id: String) { self.id = id }
    }

    /// How many of a leaving node's tasks still ran after draining.
    public struct DrainResult: Codable, Sendable {
        public let remaining: Int
        public init(remaining: Int) { self.remaining = remaining }
    }

    public struct JoinResponse: Codable, Sendable {
        /// The node's own credential (`NAME.SECRET`) for every later call; shown once.
        public let credential: String
        public let map: NetworkMap
        public init(credential: String, map: NetworkMap) {
            self.credential = credential
            self.map = map
        }
    }

    public struct TokenCreateRequest: Codable, Sendable {
        public let domain: String
        public let ttlSeconds: Int
        public let uses: Int
        public init(domain: String, ttlSeconds: Int, uses: Int) {
            self.domain = domain
            self.ttlSeconds = ttlSeconds
            self.uses = uses
        }
    }

    public struct TokenInfo: Codable, Sendable {
        public let id: String
        public let domain: String
        public let createdAt: Date
        public let expiresAt: Date
        public let uses: Int
        public let maxUses: Int
        public let state: JoinToken.State
        public init(_ token: JoinToken, now: Date) {
            id = token.id
            domain = token.domain
            createdAt = token.createdAt
            expiresAt = token.expiresAt
            uses = token.uses
            maxUses = token.maxUses
            state = token.state(at: now)
        }
    }

    public struct TokenCreateResponse: Codable, Sendable {
        public let token: TokenInfo
        /// The join string; it carries the secret and is shown only here.
        public let join: String
        public init(token: TokenInfo, join: String) {
            self.token = token
            self.join = join
        }
    }

    public struct NodeInfo: Codable, Sendable {
        public let name: String
        public let domain: String
        public let address: IPv4Address
        public let publicKey: WireGuardKey
        public let isMaster: Bool
        public let online: Bool
        public let lastSeen: Date?
        /// The network-map version the node last reported as applied.
        public let mapVersion: Int64?
        /// Whether the node runs a container engine in the federation's Swarm.
        public let workloads: Bool
        /// The node's engine subnet, when it runs workloads.
        public let engineSubnet: IPv4CIDR?
        /// A worker's path to the hub as it last reported it (`direct` or `relay`).
        public let path: TunnelPath?
        public init(_ node: NodeRecord, online: Bool, lastSeen: Date?, mapVersion: Int64? = nil, path: TunnelPath? = nil) {
            self.path = path
            workloads = node.runsWorkloads
            engineSubnet = node.engineSubnet
            name = node.name
            domain = node.domain
            address = node.address
            publicKey = node.publicKey
            isMaster = node.isMaster
            self.online = online
            self.lastSeen = lastSeen
            self.mapVersion = mapVersion
        }
    }

    public struct Status: Codable, Sendable {
        public let federation: String
        public let cidr: IPv4CIDR
        public let endpoint: String
        public let apiPort: UInt16
        public let wireGuardPort: UInt16
        public let caPin: String
        public let mapVersion: Int64
        public let nodes: Int
        public let online: Int
        public init(federation: String, cidr: IPv4CIDR, endpoint: String, apiPort: UInt16, wireGuardPort: UInt16, caPin: String, mapVersion: Int64, nodes: Int, online: Int) {
            self.federation = federation
            self.cidr = cidr
            self.endpoint = endpoint
            self.apiPort = apiPort
            self.wireGuardPort = wireGuardPort
            self.caPin = caPin
            self.mapVersion = mapVersion
            self.nodes = nodes
            self.online = online
        }
    }

    public struct Heartbeat: Codable, Sendable {
        public let mapVersion: Int64
        public let tunnelUp: Bool
        /// How the node's tunnel reaches the hub now (nil: the hub itself, or an older agent).
        public let path: TunnelPath?
        public init(mapVersion: Int64, tunnelUp: Bool, path: TunnelPath? = nil) {
            self.mapVersion = mapVersion
            self.tunnelUp = tunnelUp
            self.path = path
        }
    }

    public struct Health: Codable, Sendable {
        public let status: String
        public let federation: String
        public init(status: String, federation: String) {
            self.status = status
            self.federation = federation
        }
    }

    public struct ErrorBody: Codable, Sendable {
        public struct Detail: Codable, Sendable {
            public let message: String
            public init(message: String) { self.message = message }
        }
        public let error: Detail
        public init(error: Detail) { self.error = error }
    }

    /// JSON as the API speaks it: ISO 8601 dates, sorted keys.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// The same, indented for people and for files people may read.
    public static func prettyEncoder() -> JSONEncoder {
        let encoder = encoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

extension API {
    public struct ExposeRequest: Codable, Sendable {
        public let name: String
        public let proto: FlowProtocol
        public let port: UInt16
        public let target: IPv4Address
        public let targetPort: UInt16
        /// The exposing node; only the operator may name one (a node always exposes for itself).
        public let node: String?
        public init(name: String, proto: FlowProtocol, port: UInt16, target: IPv4Address, targetPort: UInt16, node: String? = nil) {
            self.name = name
            self.proto = proto
            self.port = port
            self.target = target
            self.targetPort = targetPort
            self.node = node
        }
    }

    /// A service of the federation's catalogue. The LAN address behind it stays with its domain.
    public struct ServiceInfo: Codable, Sendable {
        public let name: String
        public let domain: String
        public let node: String
        public let address: IPv4Address
        public let port: UInt16
        public let proto: FlowProtocol
        public let dnsName: String
        /// The nodes that the policy lets reach it.
        public let allowedFrom: [String]
        public init(name: String, domain: String, node: String, address: IPv4Address, port: UInt16, proto: FlowProtocol, dnsName: String, allowedFrom: [String]) {
            self.name = name
            self.domain = domain
            self.node = node
            self.address = address
            self.port = port
            self.proto = proto
            self.dnsName = dnsName
            self.allowedFrom = allowedFrom
        }
    }

    public struct EndpointBody: Codable, Sendable {
        /// An IPv4 address or a DNS name (no port: the ports stay).
        public let endpoint: String
        public init(endpoint: String) { self.endpoint = endpoint }
    }

    /// The master's endpoint after `PUT /v1/settings/endpoint`.
    public struct EndpointInfo: Codable, Equatable, Sendable {
        public let endpoint: String
        public let previous: String
        public let apiPort: UInt16
        public let wireGuardPort: UInt16
        /// The map version that carries the endpoint to the nodes.
        public let mapVersion: Int64
        public init(endpoint: String, previous: String, apiPort: UInt16, wireGuardPort: UInt16, mapVersion: Int64) {
            self.endpoint = endpoint
            self.previous = previous
            self.apiPort = apiPort
            self.wireGuardPort = wireGuardPort
            self.mapVersion = mapVersion
        }
    }

    public struct PolicyBody: Codable, Sendable {
        public let text: String
        public init(text: String) { self.text = text }
    }

    public struct PolicyInfo: Codable, Sendable {
        /// nil while the built-in default is in force.
        public let version: Int64?
        public let text: String
        public let isDefault: Bool
        /// After a change: online nodes that had not applied it when the answer was sent.
        public let pendingOn: [String]?
        public init(version: Int64?, text: String, isDefault: Bool, pendingOn: [String]? = nil) {
            self.version = version
            self.text = text
            self.isDefault = isDefault
            self.pendingOn = pendingOn
        }
    }

    public struct PolicyTestRequest: Codable, Sendable {
        public let source: String
        public let destination: String
        public let port: UInt16?
        public let proto: FlowProtocol
        public init(source: String, destination: String, port: UInt16?, proto: FlowProtocol) {
            self.source = source
            self.destination = destination
            self.port = port
            self.proto = proto
        }
    }
}
