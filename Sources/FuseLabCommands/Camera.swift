import ArgumentParser
import Foundation
import FuseLab

/// `fuse-lab camera`: IP cameras on a lab's non-federated devices, and the relay's image.
struct Camera: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start simulated IP cameras on a non-federated device of a lab, or write the camera relay's image.",
        discussion: """
            Each camera serves 720p, 25 fps, ~2 Mbit/s H.264 as fragmented MP4 over HTTP (GET / on \
            its port; one fragment per frame with the camera's wall-clock time in a 'prft' box; the \
            frame number is burnt in). The clip is encoded once per lab with ffmpeg and looped without \
            re-encoding. Cameras run until 'fuse-lab down'. With --relay-image FILE it writes the \
            relay's root file system tarball instead (for 'fuse image import FILE \(CameraRelay.image)').
            """)

    @OptionGroup var options: PrefixOption

    @Option(name: .customLong("on"), help: "The lab device the cameras run on (e.g. cam, store).")
    var node: String = "cam"

    @Argument(help: "Cameras as NAME:PORT, e.g. gate:8081 yard:8082.")
    var cameras: [String] = []

    @Option(name: .customLong("relay-image"), help: "Write the camera relay's image tarball to this file and exit.")
    var relayImage: String?

    func run() throws {
        if let relayImage {
            try CameraRelay.writeImage(to: relayImage)
            print("wrote \(relayImage): import it with 'fuse image import \(relayImage) \(CameraRelay.image)'")
            return
        }
        guard !cameras.isEmpty else { throw LabError("name at least one camera as NAME:PORT") }
        let lab = try Lab.open(prefix: options.prefix)
        for spec in cameras {
            let parts = spec.split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) else { throw LabError("bad camera '\(spec)': use NAME:PORT") }
            let camera = try LabCamera.start(in: lab, node: node, name: String(parts[0]), port: port)
            print("\(camera.name): \(camera.url) on \(node) (pid \(camera.pid))")
        }
    }
}
