/// What `fuse --version` prints. `scripts/package` stamps the commit into its copy of this
/// file; a build from the work tree says `unknown`.
enum BuildInfo {
    static let version = "0.11.0"
    static let commit = "unknown"
    static var versionLine: String { "fuse \(version) (commit \(commit))" }
}
