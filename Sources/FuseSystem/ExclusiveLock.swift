import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock` on a file, held while the value lives (and released by the kernel when
/// the process dies, however it dies): one node daemon per state dir.
public final class ExclusiveLock: Sendable {
    let descriptor: Int32

    /// Takes the lock at once or throws (another process holds it).
    public init(path: String) throws {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw SystemError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw SystemError("\(path) is locked by another process")
        }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }
}
