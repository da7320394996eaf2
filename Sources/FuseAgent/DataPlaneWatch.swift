import Foundation
import FuseSystem

/// The wait between two repairs of the host, cut short when the node's wireguard-go dies
/// (killed, crashed): the next repair then starts it again at once instead of after up to a
/// whole repair interval, and on the hub the workers' tunnels come back within a second.
enum DataPlaneWatch {
    static func sleep(upTo interval: Duration, wireGuardPIDFile: String, every tick: Duration = .milliseconds(100)) async throws {
        // Kernel WireGuard has no process, and one that is dead already was not brought back by
        // the last repair: a plain wait (no busy loop of failing repairs).
        guard let pid = Daemon.pid(inFile: wireGuardPIDFile), Daemon.isAlive(pid) else { return try await Task.sleep(for: interval) }
        let deadline = ContinuousClock.now + interval
        while ContinuousClock.now < deadline {
            if !Daemon.isAlive(pid) {
                var status: Int32 = 0
                _ = waitpid(pid, &status, WNOHANG)  // ours when this daemon started it
                return
            }
            try await Task.sleep(for: min(tick, deadline - ContinuousClock.now))
        }
    }
}
