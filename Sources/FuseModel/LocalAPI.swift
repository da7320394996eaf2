import Foundation

/// The node daemon's local API (`fuse agent run`, on a root-only unix socket): what the thin
/// `fuse` commands send and get back. Documented in `docs/local-api.md`.
public enum LocalAPI {
    public static let prefix = "/local/v1"

    /// `POST /local/v1/join`: enrol with a join string and bring the node up.
    public struct JoinRequest: Codable, Sendable {
        public let joinString: String
        public let name: String
        public let interface: String
        public let workloads: Bool
        public let timeoutSeconds: Int
        public init(joinString: String, name: String, interface: String, workloads: Bool, timeoutSeconds: Int) {
            self.joinString = joinString
            self.name = name
            self.interface = interface
            self.workloads = workloads
            self.timeoutSeconds = timeoutSeconds
        }
    }

    /// `POST /local/v1/leave`.
    public struct LeaveRequest: Codable, Sendable {
        public let force: Bool
        public init(force: Bool) { self.force = force }
    }

    /// The outcome of a join, as `fuse join --json` prints it.
    public struct JoinResult: Codable, Sendable {
        public struct Step: Codable, Sendable {
            public let step: String
            public let seconds: Double
            public init(step: String, seconds: Double) {
                self.step = step
                self.seconds = seconds
            }
        }
        public let name: String
        public let domain: String
        public let address: String
        public let interface: String
        public let workloads: Bool
        public let federation: String
        public let seconds: Double
        public let steps: [Step]
        public init(name: String, domain: String, address: String, interface: String, workloads: Bool, federation: String, seconds: Double, steps: [Step]) {
            self.name = name
            self.domain = domain
            self.address = address
            self.interface = interface
            self.workloads = workloads
            self.federation = federation
            self.seconds = seconds
            self.steps = steps
        }
    }

    /// The outcome of a leave, as `fuse leave --json` prints it.
    public struct LeaveResult: Codable, Sendable {
        public let node: String
        public let deregistered: Bool
        public let tasksLeftRunning: Int?
        public let seconds: Double
        public init(node: String, deregistered: Bool, tasksLeftRunning: Int?, seconds: Double) {
            self.node = node
            self.deregistered = deregistered
            self.tasksLeftRunning = tasksLeftRunning
            self.seconds = seconds
        }
    }

    /// One line of a long operation's answer (newline-delimited JSON): a step begins, a step is
    /// done (with its time), a note, and finally the result or the error.
    public struct Event: Codable, Sendable, Equatable {
        public enum Kind: String, Codable, Sendable {
            case begin, done, note, result, error
        }
        public let kind: Kind
        public let message: String
        public let seconds: Double?
        /// With `.result`: the operation's result as JSON text.
        public let result: String?
        /// With `.error`: its HTTP-like status (409: another operation or node holds this state dir).
        public let code: Int?

        public init(kind: Kind, message: String, seconds: Double? = nil, result: String? = nil, code: Int? = nil) {
            self.kind = kind
            self.message = message
            self.seconds = seconds
            self.result = result
            self.code = code
        }
    }
}
