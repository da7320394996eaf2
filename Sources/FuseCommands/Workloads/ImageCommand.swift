import ArgumentParser
import Foundation
import FuseAgent
import FuseModel
import FuseSystem

struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Images in the federation's registry on the master (no internet needed).",
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
            let context = try WorkloadContext.load(options)
            let image = try Compose.imageReference(name, registry: context.registry)
            guard FileManager.default.isReadableFile(atPath: tarball) else { throw CommandFailure("cannot read \(tarball)") }
            let clock = StepClock(quiet: options.json)
            clock.begin("importing \(tarball)")
            try context.cli.run(["import", tarball, image.description])
            clock.done("imported as \(image)")
            try push(image, context: context, clock: clock)
            report(image, clock: clock, json: options.json)
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
            let context = try WorkloadContext.load(options)
            let target = try Compose.imageReference(image, registry: context.registry)
            let source = DockerCLI(socket: from, configDirectory: context.cli.configDirectory)
            guard source.isResponding else { throw CommandFailure("no Docker engine answers at \(from) (use --from SOCKET)") }
            let clock = StepClock(quiet: options.json)
            try await context.withScratchFile("image-push.tar", options) { archive in
                clock.begin("saving \(image) from \(from)")
                try source.run(["save", "-o", archive, image])
                clock.done("saved")
                clock.begin("loading it into the master's engine")
                try context.cli.run(["load", "-q", "-i", archive])
                try context.cli.run(["tag", image, target.description])
                clock.done("loaded as \(target)")
            }
            try push(target, context: context, clock: clock)
            report(target, clock: clock, json: options.json)
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
            let context = try WorkloadContext.load(options)
            let catalogue = try await context.registryClient.catalogue()
            let images = catalogue.keys.sorted().flatMap { repository in catalogue[repository, default: []].map { "\(repository):\($0)" } }
            if options.json { return Console.json(images) }
            print(images.isEmpty ? "the registry at \(context.registry) holds no images" : images.joined(separator: "\n"))
        }
    }
}

/// Pushes through the registry's loopback side (the only one that takes writes; nodes pull
/// from the read-only side at the master's VPN address), under a tag used for that push only.
private func push(_ image: ImageReference, context: WorkloadContext, clock: StepClock) throws {
    clock.begin("pushing to the federation's registry \(context.registry)")
    let pushName = ImageReference(registry: SwarmPorts.registryPushHost, repository: image.repository, tag: image.tag).description
    try context.cli.run(["tag", image.description, pushName])
    defer { _ = try? context.cli.result(["rmi", pushName]) }
    try context.cli.run(["push", "-q", pushName])
    clock.done("pushed")
}

private func report(_ image: ImageReference, clock: StepClock, json: Bool) {
    struct Result: Encodable {
        let image: String
        let reference: String
        let seconds: Double
    }
    let short = "\(image.repository):\(image.tag)"
    if json { return Console.json(Result(image: short, reference: image.description, seconds: clock.total)) }
    print(String(format: "image %@ is in the federation's registry (%@) after %.2f s", short, image.description, clock.total))
}
