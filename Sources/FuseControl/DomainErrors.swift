import Foundation
import FuseModel

// What the control plane's domain logic refuses, one enum per area. Each case carries what its
// one-line message needs; HTTP statuses are given to them only at the edge (APIErrorMapping.swift).
// Refusals of the store (`JoinRefusal`, `ExposureRefusal`, `StorageFull`) are passed on as they are.

/// Enrolment refused before the store is asked.
public enum JoinError: Error, Equatable, CustomStringConvertible, Sendable {
    /// Too many refused joins from this source or for this token.
    case tooManyRefusals(source: String, retryAfterSeconds: Int)
    case invalidName(String)
    /// Too many joins are enrolling and waiting already (`JoinAdmission`).
    case busy(waiting: Int, retryAfterSeconds: Int)
    /// The node vanished between its enrolment and its map.
    case noMap

    public var description: String {
        switch self {
        case .tooManyRefusals(let source, let seconds): "too many refused joins from \(source) or for this token; try again in \(seconds) s"
        case .invalidName(let reason): reason
        case .busy(let waiting, let seconds): "the master is busy with \(waiting) waiting joins; try again in \(seconds) s"
        case .noMap: "internal error"
        }
    }
}

/// Nodes: leaving, removal, lookup.
public enum NodeError: Error, Equatable, CustomStringConvertible, Sendable {
    case unknown(String)
    /// A credential of a node that is no longer registered.
    case notInFederation(String)
    case masterCannotLeave
    case masterCannotBeRemoved

    public var description: String {
        switch self {
        case .unknown(let name): "no node named \(NameRule.echo(name))"
        case .notInFederation(let name): "node \(name) is not in the federation"
        case .masterCannotLeave: "the master cannot leave; use `fuse master destroy`"
        case .masterCannotBeRemoved: "the master cannot be removed; use `fuse master destroy`"
        }
    }
}

/// Join tokens.
public enum TokenError: Error, Equatable, CustomStringConvertible, Sendable {
    case invalidDomain(String)
    case badTTL
    case badUses
    case unknown(String)

    public var description: String {
        switch self {
        case .invalidDomain(let reason): reason
        case .badTTL: "bad ttl: use 1 second to 366 days"
        case .badUses: "bad uses: use 1 to 10000"
        case .unknown(let id): "no token with id \(NameRule.echo(id))"
        }
    }
}

/// Exposures (a node publishing a service of its LAN).
public enum ExposureError: Error, Equatable, CustomStringConvertible, Sendable {
    case notOwnLAN
    case invalid(String)
    case notTCPOrUDP
    case portZero
    case nameOfNode(String)
    case controlPlanePort(UInt16)
    case unknown(name: String, owner: String?)

    public var description: String {
        switch self {
        case .notOwnLAN: "a node can only expose services of its own LAN"
        case .invalid(let reason): reason
        case .notTCPOrUDP: "an exposure is tcp or udp"
        case .portZero: "bad port 0: use 1-65535"
        case .nameOfNode(let node): "\(node) is a node's name; an exposure needs a name of its own"
        case .controlPlanePort(let port): "tcp port \(port) on the master is the control plane's"
        case .unknown(let name, let owner): "no exposure named \(NameRule.echo(name))\(owner.map { " on \($0)" } ?? "")"
        }
    }
}

/// The federation's policy.
public enum PolicyError: Error, Equatable, CustomStringConvertible, Sendable {
    case noMaster
    case invalid(String)
    case unknownDestination(String)
    case icmpHasNoPort

    public var description: String {
        switch self {
        case .noMaster: "the federation has no master node"
        case .invalid(let reason): reason
        case .unknownDestination(let name): "no exposure or node named \(NameRule.echo(name))"
        case .icmpHasNoPort: "icmp has no port"
        }
    }
}

/// The federation's settings (`fuse master set-endpoint`).
public enum SettingsError: Error, Equatable, CustomStringConvertible, Sendable {
    case invalidEndpoint(String)

    public var description: String {
        switch self {
        case .invalidEndpoint(let reason): reason
        }
    }
}

/// Nodes' engines in the master's Swarm.
public enum SwarmError: Error, Equatable, CustomStringConvertible, Sendable {
    case nodeRunsNoWorkloads(String)
    case noWorkloads
    case managerNotReady(String)
    case badSwarmID
    case unknownSwarmNode(String)
    case notTheNodesEngine(id: String, node: String)
    case drainFailed(node: String, reason: String)

    public var description: String {
        switch self {
        case .nodeRunsNoWorkloads(let node): "node \(node) runs no workloads (it joined with --no-workloads, or the federation has none)"
        case .noWorkloads: "this federation runs no workloads"
        case .managerNotReady(let reason): "the master's Swarm manager is not ready: \(reason)"
        case .badSwarmID: "bad Swarm node ID"
        case .unknownSwarmNode(let id): "no Swarm node \(id)"
        case .notTheNodesEngine(let id, let node): "Swarm node \(id) is not \(node)'s engine"
        case .drainFailed(let node, let reason): "the Swarm manager could not drain \(node): \(reason)"
        }
    }
}

/// Live camera streams of the dashboard.
public enum StreamError: Error, Equatable, CustomStringConvertible, Sendable {
    case notOverTheFederation
    case notANode(IPv4Address)
    case otherDomain(node: String, nodeDomain: String, domain: String)
    case invalid(String)
    case idle(seconds: Int64)
    case shuttingDown
    case alreadyPushed(id: String, by: String)
    case tooManyStreams(Int)
    case unknown(String)
    case tooManyViewers(id: String, limit: Int)

    public var description: String {
        switch self {
        case .notOverTheFederation: "streams are pushed over the federation: connect to the master's VPN address from a node"
        case .notANode(let address): "\(address) is no node of the federation"
        case .otherDomain(let node, let nodeDomain, let domain): "node \(node) of \(nodeDomain) cannot push streams of \(domain)"
        case .invalid(let reason): reason
        case .idle(let seconds): "no data from the relay for \(seconds) s"
        case .shuttingDown: "the master is shutting down"
        case .alreadyPushed(let id, let node): "stream \(id) is already being pushed by \(node)"
        case .tooManyStreams(let limit): "the dashboard takes at most \(limit) streams"
        case .unknown(let id): "no live stream \(id)"
        case .tooManyViewers(let id, let limit): "stream \(id) has \(limit) viewers already"
        }
    }
}

/// Dashboard logins.
public enum DashboardError: Error, Equatable, CustomStringConvertible, Sendable {
    case notLoggedIn
    case invalidLogin
    case credentialOrLoginRequired
    case badTTL

    public var description: String {
        switch self {
        case .notLoggedIn: "log in to the dashboard first (`fuse dashboard` on the master prints a login)"
        case .invalidLogin: "invalid or expired login token"
        case .credentialOrLoginRequired: "the operator's credential or a dashboard login is required"
        case .badTTL: "bad ttl: use 1 second to 30 days"
        }
    }
}

/// Deployments: images in the federation's registry and stacks on its Swarm.
public enum WorkloadError: Error, Equatable, CustomStringConvertible, Sendable {
    case noWorkloads(federation: String)
    /// A bad stack name, image name or compose file (the reason says which).
    case invalid(String)
    case badTimeout(Int)
    case badSource(String)
    case imageMissing(String)
    case imageTooLarge(limit: Int)
    case emptyImage
    /// The master's engine did not take an uploaded archive.
    case imageRefused(String)
    case noStack(String)
    /// A deployment failed (`timedOut`: its tasks did not all run in time); a new stack is removed again.
    case deployFailed(reason: String, timedOut: Bool, removed: Bool)
    case notGone(stack: String, seconds: Int)
    /// The master's engine or registry failed.
    case engine(String)

    public var description: String {
        switch self {
        case .noWorkloads(let federation): "federation \(federation) runs no workloads (it was created with --no-workloads)"
        case .invalid(let reason): reason
        case .badTimeout(let seconds): "bad timeout \(seconds): use 1 to 3600 seconds"
        case .badSource(let name): "bad source image name \"\(NameRule.echo(name))\""
        case .imageMissing(let image): "image \(image) is not in the federation's registry; add it with `fuse image import` or `fuse image push`"
        case .imageTooLarge(let limit): "image archive over \(limit) bytes"
        case .emptyImage: "the image archive is empty"
        case .imageRefused(let reason): "the master's engine refused the image: \(reason)"
        case .noStack(let name): "no stack named \(NameRule.echo(name))"
        case .deployFailed(let reason, _, let removed): "\(reason)\(removed ? "; the stack was removed again" : "")"
        case .notGone(let stack, let seconds): "stack \(stack) was not gone within \(seconds) s; see `fuse ps \(stack) --all`"
        case .engine(let reason): reason
        }
    }
}
