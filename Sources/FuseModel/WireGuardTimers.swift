/// WireGuard's protocol timers that FUSE's own decisions follow (the WireGuard paper, §6).
public enum WireGuardTimers {
    /// A session older than this is never used again (`REJECT_AFTER_TIME`): a tunnel whose
    /// last handshake is older carries nothing until a new handshake.
    public static let rejectAfterSeconds: Int64 = 180

    /// Whether a handshake at `lastHandshake` (seconds since the epoch; 0 = never) still
    /// gives a usable session at `now`.
    public static func isFresh(lastHandshake: Int64, now: Double) -> Bool {
        lastHandshake > 0 && now - Double(lastHandshake) < Double(rejectAfterSeconds)
    }
}
