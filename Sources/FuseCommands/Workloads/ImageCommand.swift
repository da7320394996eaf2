import ArgumentParser
import Foundation
import FuseAgent
import FuseModel
import FuseSystem

struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Images in the federation's registry on the master (no internet needed).",
        discussion: """
            The archive is uploaded to the control plane with the operator's credential (on the master, or from \
            another host with FUSE_MASTER, FUSE_CA_PIN and FUSE_ADMIN_CREDENTIAL); the master puts it into its registry. \
            Nodes only pull.
            """,
        subcommands: [ImageImport.self, ImagePush.self, ImageList.self])
}

struct ImageImport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a root file system tarball as an image into the federation's registry.",
        discussion: "Example: fuse image import rootfs.tar tools:1 — deployments then name it `tools:1`.")

    @OptionGroup var options: GlobalOptions

    @Argument(help: "A tar archive of a root file system (as `docker import` takes it).")
    var tarball: String

    @Argument(help: "The image's name, NAME[:TAG] (tag default: latest).")
    var name: String

    func run() async throws {
        try await Console.run {
            guard FileManager.default.isReadableFile(atPath: tarball) else { throw CommandFailure("cannot read \(tarball)") }
            let clock = StepClock(quiet: options.json)
            let added = try await ImageUploads.upload(tarball, as: name, format: .rootfs, source: nil, options: options, clock: clock)
            ImageUploads.report(added, clock: clock, json: options.json)
        }
    }
}

struct ImagePush: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Copy an image from a Docker engine on this host (by default the host's own) into the federation's registry.")

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The image, NAME[:TAG], as the source engine names it.")
    var image: String

    @Option(help: "The source engine's socket.")
    var from: String = "/var/run/docker.sock"

    func run() async throws {
        try await Console.run {
            // The docker client gets a configuration folder of its own (never the user's credentials).
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("fuse-image-push-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: scratch + "/docker", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            let source = DockerCLI(socket: from, configDirectory: scratch + "/docker", timeout: .seconds(1800))
            guard source.isResponding else { throw CommandFailure("no Docker engine answers at \(from) (use --from SOCKET)") }
            let clock = StepClock(quiet: options.json)
            let archive = scratch + "/image.tar"
            clock.begin("saving \(image) from \(from)")
            try source.run(["save", "-o", archive, image])
            clock.done("saved")
            let added = try await ImageUploads.upload(archive, as: image, format: .dockerArchive, source: image, options: options, clock: clock)
            ImageUploads.report(added, clock: clock, json: options.json)
        }
    }
}

struct ImageList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List the images in the federation's registry.")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await Console.run {
            let images: [String] = try await Clients.with(try await Clients.admin(options)) { try await $0.call("GET", "/v1/images") }
            if options.json { return Console.json(images) }
            print(images.isEmpty ? "the federation's registry holds no images" : images.joined(separator: "\n"))
        }
    }
}

/// An image archive's way to the registry: uploaded to the control plane (`POST /v1/images`),
/// which loads it into the master's engine and pushes it through the registry's loopback side.
enum ImageUploads {
    static func upload(_ archive: String, as name: String, format: API.ImageArchiveFormat, source: String?, options: GlobalOptions,
                       clock: StepClock) async throws -> API.ImageAdded {
        // The control plane checks the name too; checked here first, a bad one fails before any upload.
        _ = try Compose.imageReference(name, registry: SwarmPorts.registryPushHost)
        var query = ["name=" + Clients.urlComponent(name), "format=" + format.rawValue]
        if let source { query.append("source=" + Clients.urlComponent(source)) }
        clock.begin("uploading \(archive) to the federation's registry")
        // Large images take a while to load and push after the upload: the answer may come late.
        let added: API.ImageAdded = try await Clients.with(try await Clients.admin(options, readTimeout: .seconds(1800))) {
            try await $0.upload("/v1/images?" + query.joined(separator: "&"), file: archive, timeout: .seconds(3600))
        }
        clock.done("pushed as \(added.reference)")
        return added
    }

    static func report(_ added: API.ImageAdded, clock: StepClock, json: Bool) {
        struct Result: Encodable {
            let image: String
            let reference: String
            let seconds: Double
        }
        if json { return Console.json(Result(image: added.image, reference: added.reference, seconds: clock.total)) }
        print(String(format: "image %@ is in the federation's registry (%@) after %.2f s", added.image, added.reference, clock.total))
    }
}
