import Foundation
import FuseSystem

/// The paper's use case on a lab: cameras in companyA (on `cam`) and companyB (on `store`),
/// a relay per company deployed with `fuse deploy`, their streams on the master's dashboard.
public struct LabVideo: Sendable {
    public struct Site: Sendable {
        public let device: String
        public let domain: String
        public let cameras: [String]
    }

    public static let sites = [
        Site(device: "cam", domain: "companyA", cameras: ["gate", "yard"]),
        Site(device: "store", domain: "companyB", cameras: ["dock", "hall"]),
    ]
    public static let firstPort = 8081
    public static let stackName = "video"

    public let cameras: [LabCamera]

    /// Starts the cameras, imports the relay's image and deploys one relay per company, which
    /// pushes to the master at `master` (VPN address:API port). `fuse` runs `fuse ARGS` in a lab
    /// node and returns its output.
    public static func start(lab: Lab, master: String, sites: [Site] = sites, fuse: (String, [String]) throws -> String) throws -> LabVideo {
        var cameras: [LabCamera] = []
        do {
            for site in sites {
                for (index, name) in site.cameras.enumerated() {
                    cameras.append(try LabCamera.start(in: lab, node: site.device, name: name, port: firstPort + index))
                }
            }
            try importRelayImage(lab: lab, fuse: fuse)
            try deployRelays(lab: lab, master: master, cameras: cameras, stack: stackName, fuse: fuse)
        } catch {
            cameras.forEach { $0.stop() }
            throw error
        }
        return LabVideo(cameras: cameras)
    }

    public func stop() { cameras.forEach { $0.stop() } }

    /// Writes the relay's image and imports it into the federation's registry.
    public static func importRelayImage(lab: Lab, fuse: (String, [String]) throws -> String) throws {
        let image = lab.topology.runDirectory + "/camera-relay.tar"
        try CameraRelay.writeImage(to: image)
        _ = try fuse("master", ["image", "import", image, CameraRelay.image])
    }

    /// Deploys `stack`: a relay per domain of these cameras, placed in that domain.
    public static func deployRelays(lab: Lab, master: String, cameras: [LabCamera], stack: String, fuse: (String, [String]) throws -> String) throws {
        var relays: [(domain: String, cameras: [(name: String, url: String)])] = []
        for camera in cameras {
            guard let domain = try lab.node(camera.node).domain else { throw LabError("camera \(camera.name) is on no domain's device") }
            if let index = relays.firstIndex(where: { $0.domain == domain }) {
                relays[index].cameras.append((camera.name, camera.url))
            } else {
                relays.append((domain, [(camera.name, camera.url)]))
            }
        }
        let file = lab.topology.runDirectory + "/\(stack)-stack.yml"
        try CameraRelay.stack(master: master, relays: relays).write(toFile: file, atomically: true, encoding: .utf8)
        _ = try fuse("master", ["deploy", "-f", file, "--name", stack])
    }

    /// Stream → frames per second at the master's ingest, from its `/metrics` (read with the
    /// operator's credential inside the master's namespace).
    public static func ingestFPS(lab: Lab) throws -> [String: Double] {
        streamValues("fuse_stream_fps", in: try metrics(lab: lab))
    }

    /// Stream → value of a per-stream metric in `/metrics` text.
    public static func streamValues(_ metric: String, in text: String) -> [String: Double] {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix(metric + "{") {
            guard let stream = line.range(of: #"stream="[^"]+""#, options: .regularExpression),
                  let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            values[String(line[stream].dropFirst(8).dropLast())] = value
        }
        return values
    }

    /// The master's `/metrics` text.
    public static func metrics(lab: Lab) throws -> String {
        let master = try lab.node(lab.topology.masterNodeId)
        guard let stateDir = master.stateDir else { throw LabError("the lab has no master state") }
        let credential = try String(contentsOfFile: stateDir + "/master/admin.credential", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        // The credential goes on stdin, never on a command line.
        let result = try lab.exec(master.id, ["curl", "-sS", "--fail-with-body", "--cacert", stateDir + "/master/ca.pem", "-K", "-",
                                              "https://127.0.0.1:\(lab.apiPort)/metrics"],
                                  input: "header = \"Authorization: Bearer \(credential)\"\n", timeout: .seconds(10))
        guard result.succeeded else { throw LabError("cannot read the master's /metrics: \(oneLine(SystemError(result.stderr + result.stdout)))") }
        return result.stdout
    }
}
