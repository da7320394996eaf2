import Foundation
import FuseLab
import FuseModel
import FuseSystem

extension Demo {
    /// The paper's use case: cameras in companyA and companyB, a relay per company (`fuse
    /// deploy`), their streams on the crisis centre's dashboard. Prints the streams as the
    /// master ingests them and where to open the dashboard. Returns the number of surprises.
    static func showVideoWall(lab: Lab, master: String, keep: Bool, fuse: (String, [String]) throws -> String, progress: (String) -> Void) throws -> Int {
        progress("cameras: \(LabVideo.sites.map { "\($0.cameras.joined(separator: ", ")) in \($0.domain)" }.joined(separator: "; ")) (720p, 25 fps, ~2 Mbit/s over HTTP)")
        progress("master: fuse image import (camera relay) and fuse deploy (a relay per company)")
        _ = try LabVideo.start(lab: lab, master: "\(master):\(lab.apiPort)", fuse: fuse)
        let expected = LabVideo.sites.reduce(0) { $0 + $1.cameras.count }
        var fps: [String: Double] = [:]
        let live = pollUntil(.seconds(60), every: .milliseconds(500)) {
            fps = (try? LabVideo.ingestFPS(lab: lab)) ?? [:]
            return fps.count == expected && fps.values.allSatisfy { $0 >= 24 }
        }
        print(renderTable(["STREAM", "FPS AT THE MASTER"], fps.sorted { $0.key < $1.key }.map { [$0.key, String(format: "%.1f", $0.value)] }), terminator: "")
        progress(live ? "\(expected) streams of two companies on the video wall" : "✗ not every stream reached the dashboard at 24 fps")
        let login = try API.decoder().decode(API.DashboardLogin.self, from: Data(try fuse("master", ["dashboard", "--json"]).utf8))
        progress("dashboard (inside the lab, e.g. from the operator PC 'op'): \(login.url)")
        if keep {
            let url = try forwardDashboard(lab: lab)
            progress("dashboard from this machine: \(url)#login=\(login.token)")
            progress("  (the browser must trust the federation's CA, \(try lab.node(lab.topology.masterNodeId).stateDir ?? "")/master/ca.pem, or be told to proceed)")
        }
        return live ? 0 : 1
    }

    /// Forwards 127.0.0.1:API_PORT on this machine to the master's API (socat), so that a
    /// person can open the dashboard here; the certificate names 127.0.0.1. `fuse-lab down`
    /// stops it (its command line names the lab's folder).
    static func forwardDashboard(lab: Lab) throws -> String {
        let script = lab.topology.runDirectory + "/dashboard-forward.sh"
        try """
            #!/bin/sh
            exec \(nsenterArguments(namespace: try lab.node(lab.topology.masterNodeId).namespace).joined(separator: " ")) socat STDIO TCP:127.0.0.1:\(lab.apiPort)

            """.write(toFile: script, atomically: true, encoding: .utf8)
        _ = try Daemon.spawn(["socat", "TCP-LISTEN:\(lab.apiPort),bind=127.0.0.1,reuseaddr,fork", "EXEC:sh \(script)"], logFile: lab.topology.runDirectory + "/dashboard-forward.log")
        return "https://127.0.0.1:\(lab.apiPort)/dashboard/"
    }
}
