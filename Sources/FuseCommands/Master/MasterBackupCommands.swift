import ArgumentParser
import Foundation
import FuseControl
import FuseModel
import FuseSystem

struct MasterBackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a consistent copy of the master (store, CA and keys, settings, the hub's identity) to FILE, also while it runs.",
        discussion: """
            FILE holds every secret of the federation (the CA key, the operator's credential, the \
            hub's WireGuard key): it is written with mode 0600; keep it so. `fuse master restore FILE` \
            on another host brings the master back there. The registry's images are not in it.
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "Where to write the backup (a tar file).")
    var file: String

    func run() async throws {
        try await Console.run {
            _ = try options.masterState.loadConfig()
            try Preconditions.root()
            let clock = StepClock(quiet: true)
            try MasterBackup.write(stateDir: options.stateDir, to: file)
            if options.json { return Console.json(["backup": file, "seconds": String(format: "%.3f", clock.total)]) }
            print(String(format: "master backed up to %@ in %.2f s (mode 0600: it holds the federation's secrets)", file, clock.total))
        }
    }
}

struct MasterRestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Bring a master back from `fuse master backup FILE` into an empty state dir (then `fuse master start`).")

    @OptionGroup var options: GlobalOptions

    @Argument(help: "A file written by `fuse master backup`.")
    var file: String

    func run() async throws {
        try await Console.run {
            try Preconditions.root()
            try MasterBackup.restore(from: file, stateDir: options.stateDir)
            let config = try options.masterState.loadConfig()
            if options.json { return Console.json(["restored": config.federation, "stateDir": options.stateDir]) }
            print("master of federation \(config.federation) restored into \(options.stateDir); start it with `fuse master start`")
        }
    }
}
