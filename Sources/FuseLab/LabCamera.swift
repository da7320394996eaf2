import Foundation
import FuseSystem
#if canImport(Glibc)
import Glibc
#endif

/// IP cameras for the lab, on the non-federated devices of a domain's LAN: each serves a
/// live 720p, 25 fps, ~2 Mbit/s H.264 stream as fragmented MP4 over HTTP (`GET /` on its
/// port, one fragment per frame, each with a `prft` box carrying the camera's wall-clock time
/// of the frame; the frame number and time are also burnt into the picture). The clip is
/// encoded once per lab with Debian's ffmpeg; every camera loops it without re-encoding
/// (`-re -stream_loop -1 -c copy`), so that dozens of cameras cost almost no CPU.
public struct LabCamera: Sendable {
    public let node: String
    public let name: String
    public let port: Int
    /// The camera's process group (socat, and an ffmpeg per viewer).
    public let pid: pid_t
    public let url: String

    /// Encodes the clip (10 s of moving test pattern with noise, so that it needs its
    /// 2 Mbit/s; keyframe every second) into the lab's run directory, once.
    public static func clip(in lab: Lab) throws -> String {
        let path = lab.topology.runDirectory + "/camera-clip.mp4"
        if FileManager.default.fileExists(atPath: path) { return path }
        guard Executables.find("ffmpeg") != nil else { throw LabError("ffmpeg not found (Debian: apt-get install ffmpeg)") }
        let font = ["/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"]
            .first { FileManager.default.fileExists(atPath: $0) }
        let counter = font.map { ",drawtext=fontfile=\($0):text='frame %{frame_num}   t %{pts\\:hms}':x=40:y=h-150:fontsize=36:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=8" } ?? ""
        let result = try HostCommandRunner(timeout: .seconds(180)).run([
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=10",
            "-vf", "noise=alls=12:allf=t" + counter,
            "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p", "-b:v", "2M", "-maxrate", "2.2M", "-bufsize", "2M",
            "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-an", path + ".tmp.mp4",
        ])
        guard result.succeeded else { throw LabError("ffmpeg could not encode the camera clip: \(oneLine(SystemError(result.stderr)))") }
        try FileManager.default.moveItem(atPath: path + ".tmp.mp4", toPath: path)
        return path
    }

    /// Starts a camera on a non-federated lab device, serving on `port`. `realTime: false`
    /// sends the clip as fast as the viewer takes it (no `-re`): the paper's video test, whose
    /// "output frame rate is not limited", so that frames per second measure the path.
    public static func start(in lab: Lab, node: String, name: String, port: Int, realTime: Bool = true) throws -> LabCamera {
        let device = try lab.node(node)
        guard device.role == .nonFederated, let address = device.lanAddress else { throw LabError("\(node) is no non-federated device of the lab") }
        let clip = try clip(in: lab)
        // One ffmpeg per connection: an HTTP/1.0 answer, then the stream until the viewer goes.
        let script = lab.topology.runDirectory + "/camera-\(name).sh"
        try """
            #!/bin/sh
            printf 'HTTP/1.0 200 OK\\r\\nContent-Type: video/mp4\\r\\nCache-Control: no-store\\r\\n\\r\\n'
            exec ffmpeg -hide_banner -loglevel error\(realTime ? " -re" : "") -stream_loop -1 -i \(clip) -c copy -f mp4 \\
                -movflags frag_every_frame+empty_moov+default_base_moof -write_prft wallclock pipe:1

            """.write(toFile: script, atomically: true, encoding: .utf8)
        let pid = try Daemon.spawn(try lab.execArguments(node, ["socat", "TCP-LISTEN:\(port),reuseaddr,fork", "EXEC:sh \(script)"]),
                                   logFile: lab.topology.runDirectory + "/camera-\(name).log")
        let camera = LabCamera(node: node, name: name, port: port, pid: pid, url: "http://\(address):\(port)/")
        guard pollUntil(.seconds(5), { camera.isListening(lab) }) else {
            camera.stop()
            throw LabError("camera \(name) on \(node) does not listen on port \(port): \(Daemon.lastLine(of: lab.topology.runDirectory + "/camera-\(name).log") ?? "no log")")
        }
        return camera
    }

    func isListening(_ lab: Lab) -> Bool {
        ((try? lab.exec(node, ["ss", "-Hltn", "sport = :\(port)"], timeout: .seconds(5)))?.stdout ?? "").contains(":\(port)")
    }

    /// Stops the camera and every stream it serves (its process group).
    public func stop() {
        kill(-pid, SIGTERM)
        Daemon.stop(pid, timeout: .seconds(2))
        kill(-pid, SIGKILL)
    }
}
