import Foundation

/// What the crisis centre's dashboard shows: the federation's state and its live streams, as
/// one value the master sends to the browser (JSON, over server-sent events) and renders as
/// `/metrics`.
public struct FederationView: Codable, Sendable, Equatable {
    public var federation: String
    public var generatedAt: Date
    public var mapVersion: Int64
    public var policy: PolicyState
    public var domains: [DomainView]
    public var exposures: [ExposureView]
    public var streams: [StreamView]

    public init(federation: String, generatedAt: Date, mapVersion: Int64, policy: PolicyState, domains: [DomainView], exposures: [ExposureView], streams: [StreamView]) {
        self.federation = federation
        self.generatedAt = generatedAt
        self.mapVersion = mapVersion
        self.policy = policy
        self.domains = domains
        self.exposures = exposures
        self.streams = streams
    }

    public var nodes: [NodeView] { domains.flatMap(\.nodes) }

    public struct PolicyState: Codable, Sendable, Equatable {
        /// nil: the default policy (nothing stored yet).
        public var version: Int64?
        public var rules: Int
        /// Online nodes that have applied the current map (and so the policy in it), and those behind.
        public var appliedBy: [String]
        public var pendingOn: [String]
        public init(version: Int64?, rules: Int, appliedBy: [String], pendingOn: [String]) {
            self.version = version
            self.rules = rules
            self.appliedBy = appliedBy
            self.pendingOn = pendingOn
        }
    }

    public struct DomainView: Codable, Sendable, Equatable {
        public var name: String
        public var nodes: [NodeView]
        public init(name: String, nodes: [NodeView]) {
            self.name = name
            self.nodes = nodes
        }
    }

    public struct NodeView: Codable, Sendable, Equatable {
        public var name: String
        public var domain: String
        public var role: String
        public var address: String
        public var online: Bool
        public var lastSeen: Date?
        public var appliedVersion: Int64?
        /// How many map versions the node is behind the master's current one.
        public var versionLag: Int64?
        public var runsWorkloads: Bool
        /// Running Swarm tasks on the node (`STACK_SERVICE`).
        public var tasks: [String]
        public var tunnel: TunnelView?
        public init(name: String, domain: String, role: String, address: String, online: Bool, lastSeen: Date?, appliedVersion: Int64?, versionLag: Int64?,
                    runsWorkloads: Bool, tasks: [String], tunnel: TunnelView?) {
            self.name = name
            self.domain = domain
            self.role = role
            self.address = address
            self.online = online
            self.lastSeen = lastSeen
            self.appliedVersion = appliedVersion
            self.versionLag = versionLag
            self.runsWorkloads = runsWorkloads
            self.tasks = tasks
            self.tunnel = tunnel
        }
    }

    /// The hub's view of a worker's tunnel.
    public struct TunnelView: Codable, Sendable, Equatable {
        public var lastHandshake: Date?
        public var receivedBytes: Int64
        public var sentBytes: Int64
        /// Round trip from the hub over the tunnel (ICMP echo), when the node answers.
        public var rttMilliseconds: Double?
        public var endpoint: String?
        /// `direct` or `relay`, as the worker last reported it.
        public var path: TunnelPath?
        public init(lastHandshake: Date?, receivedBytes: Int64, sentBytes: Int64, rttMilliseconds: Double?, endpoint: String?, path: TunnelPath? = nil) {
            self.path = path
            self.lastHandshake = lastHandshake
            self.receivedBytes = receivedBytes
            self.sentBytes = sentBytes
            self.rttMilliseconds = rttMilliseconds
            self.endpoint = endpoint
        }
    }

    public struct ExposureView: Codable, Sendable, Equatable {
        public var name: String
        public var domain: String
        public var node: String
        public var dnsName: String
        public var port: UInt16
        public var proto: String
        public var allowedFrom: [String]
        public init(name: String, domain: String, node: String, dnsName: String, port: UInt16, proto: String, allowedFrom: [String]) {
            self.name = name
            self.domain = domain
            self.node = node
            self.dnsName = dnsName
            self.port = port
            self.proto = proto
            self.allowedFrom = allowedFrom
        }
    }

    public struct StreamView: Codable, Sendable, Equatable {
        public enum State: String, Codable, Sendable { case live, stalled, ended }
        /// `domain/camera`: also the path of its video.
        public var id: String
        public var domain: String
        public var camera: String
        /// The node whose relay pushes it.
        public var node: String
        public var state: State
        /// Frames per second arriving at the master (counted from the fragments, not decoded).
        public var ingestFPS: Double
        public var bitsPerSecond: Double
        /// Camera frame time (`prft`) → arrival at the master.
        public var latencyMilliseconds: Double?
        public var frames: Int64
        /// Frames missing between fragments (decode-time gaps).
        public var droppedFrames: Int64
        public var viewers: Int
        public var since: Date
        public init(id: String, domain: String, camera: String, node: String, state: State, ingestFPS: Double, bitsPerSecond: Double,
                    latencyMilliseconds: Double?, frames: Int64, droppedFrames: Int64, viewers: Int, since: Date) {
            self.id = id
            self.domain = domain
            self.camera = camera
            self.node = node
            self.state = state
            self.ingestFPS = ingestFPS
            self.bitsPerSecond = bitsPerSecond
            self.latencyMilliseconds = latencyMilliseconds
            self.frames = frames
            self.droppedFrames = droppedFrames
            self.viewers = viewers
            self.since = since
        }
    }
}
