import Foundation

/// One task of a deployed stack, with the federation node it runs on.
public struct StackTask: Codable, Equatable, Sendable {
    public let stack: String
    public let service: String
    public let slot: Int?
    public let id: String
    /// The FUSE node (from the Swarm node's `fuse.node` label), or the Swarm node ID.
    public let node: String?
    public let domain: String?
    public let state: String
    public let desiredState: String
    public let error: String?
    public let image: String

    public init(stack: String, service: String, slot: Int?, id: String, node: String?, domain: String?, state: String,
                desiredState: String, error: String?, image: String) {
        self.stack = stack
        self.service = service
        self.slot = slot
        self.id = id
        self.node = node
        self.domain = domain
        self.state = state
        self.desiredState = desiredState
        self.error = error
        self.image = image
    }
}
