import Foundation

/// Deployments through the control plane (the operator's credential): images in the
/// federation's registry and stacks on its Swarm.
extension API {
    /// What an uploaded image archive holds (`POST /v1/images?format=`).
    public enum ImageArchiveFormat: String, Codable, Sendable, CaseIterable {
        /// A root file system tarball, as `docker import` takes it.
        case rootfs
        /// An image as `docker save` writes it; `source` names the image inside.
        case dockerArchive = "docker-archive"
    }

    /// An image now in the federation's registry.
    public struct ImageAdded: Codable, Equatable, Sendable {
        /// `NAME:TAG`, as deployments name it.
        public let image: String
        /// The full reference in the registry (`VPN_ADDRESS:5000/NAME:TAG`).
        public let reference: String
        public init(image: String, reference: String) {
            self.image = image
            self.reference = reference
        }
    }

    public struct DeployRequest: Codable, Equatable, Sendable {
        /// The stack's name.
        public let name: String
        /// The compose file's text.
        public let compose: String
        /// Seconds to wait for every task to run (1–3600); a new stack that does not run by
        /// then is removed again.
        public let timeoutSeconds: Int
        public init(name: String, compose: String, timeoutSeconds: Int) {
            self.name = name
            self.compose = compose
            self.timeoutSeconds = timeoutSeconds
        }
    }

    public struct Deployed: Codable, Equatable, Sendable {
        public let stack: String
        /// The stack's services, sorted.
        public let services: [String]
        /// Its running tasks.
        public let tasks: [StackTask]
        public init(stack: String, services: [String], tasks: [StackTask]) {
            self.stack = stack
            self.services = services
            self.tasks = tasks
        }
    }
}
