import FuseModel
import HTTPTypes
import Hummingbird

/// The one place where the control plane's domain errors get their HTTP statuses. The body is
/// Hummingbird's `{"error":{"message":...}}` with the error's one-line description.
public protocol APIMappedError: HTTPResponseError, CustomStringConvertible {}

extension APIMappedError {
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try HTTPError(status, message: description).response(from: request, context: context)
    }
}

extension JoinError: APIMappedError {
    public var status: HTTPResponse.Status {
        switch self {
        case .tooManyRefusals: .tooManyRequests
        case .invalidName: .badRequest
        case .busy: .serviceUnavailable
        case .noMap: .internalServerError
        }
    }

    /// With `Retry-After` when the join may be tried again later.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        switch self {
        case .tooManyRefusals(_, let seconds), .busy(_, let seconds):
            try HTTPError(status, headers: [.retryAfter: String(seconds)], message: description).response(from: request, context: context)
        case .invalidName, .noMap:
            try HTTPError(status, message: description).response(from: request, context: context)
        }
    }
}

extension JoinRefusal: APIMappedError {
    public var status: HTTPResponse.Status {
        switch self {
        case .nameTaken, .nameTakenByExposure, .keyTaken: .conflict
        case .exhausted: .serviceUnavailable
        // Unknown id, wrong secret, or the right secret of a token that expired, was revoked or is used up.
        case .invalidToken, .tokenExpired, .tokenRevoked, .tokenUsed: .unauthorized
        }
    }
}

extension NodeError: APIMappedError {
    public var status: HTTPResponse.Status {
        switch self {
        case .unknown: .notFound
        case .notInFederation: .unauthorized
        case .masterCannotLeave, .masterCannotBeRemoved: .badRequest
        }
    }
}

extension TokenError: APIMappedError {
    public var status: HTTPResponse.Status {
        switch self {
        case .invalidDomain, .badTTL, .badUses: .badRequest
        case .unknown: .notFound
        }
    }
}

extension ExposureError: APIMappedError {
    public var status: HTTPResponse.Status {
        switch self {
        case .notOwnLAN: .forbidden
        case .invalid, .notTCPOrUDP, .portZero: .badRequest
        case .nameOfNode, .controlPlanePort: .conflict
        case .unknown: .notFound
        }
    }
}

extension ExposureRefusal: APIMappedError {
    public var status: HTTPResponse.Status { .conflict }
}

extension PolicyError: APIMappedError {
    public var status: HTTPResponse.Status {
        switch self {
        case .noMaster: .internalServerError
        case .invalid, .icmpHasNoPort: .badRequest
        case .unknownDestination: .notFound
        }
    }
}

extension SettingsError: APIMappedError {
    public var status: HTTPResponse.Status { .badRequest }
}

extension SwarmError: APIMappedError {
    public var status: HTTPResponse.Status {
        switch self {
        case .nodeRunsNoWorkloads: .conflict
        case .noWorkloads, .managerNotReady: .serviceUnavailable
        case .badSwarmID: .badRequest
        case .unknownSwarmNode: .notFound
        case .notTheNodesEngine: .forbidden
        case .drainFailed: .badGateway
        }
    }
}

extension StreamError: APIMappedError {
    public var status: HTTPResponse.Status {
        switch self {
        case .notOverTheFederation, .notANode, .otherDomain: .forbidden
        case .invalid: .badRequest
        case .idle: .requestTimeout
        case .shuttingDown, .tooManyStreams, .tooManyViewers: .serviceUnavailable
        case .alreadyPushed: .conflict
        case .unknown: .notFound
        }
    }
}

extension DashboardError: APIMappedError {
    public var status: HTTPResponse.Status {
        switch self {
        case .notLoggedIn, .invalidLogin, .credentialOrLoginRequired: .unauthorized
        case .badTTL: .badRequest
        }
    }
}

extension StorageFull: APIMappedError {
    public var status: HTTPResponse.Status { .init(code: 507) }
}

extension WorkloadError: APIMappedError {
    public var status: HTTPResponse.Status {
        switch self {
        case .noWorkloads: .conflict
        case .invalid, .badTimeout, .badSource, .imageMissing, .emptyImage, .imageRefused: .badRequest
        case .imageTooLarge: .contentTooLarge
        case .noStack: .notFound
        case .deployFailed(_, let timedOut, _): timedOut ? .gatewayTimeout : .badGateway
        case .notGone: .gatewayTimeout
        case .engine: .badGateway
        }
    }
}
