import ArgumentParser
import Foundation
import FuseAgent
import FuseControl
import FuseModel
import FuseSystem
import Logging
import ServiceLifecycle

struct MasterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "master",
        abstract: "Create, start, stop and destroy the federation's master.",
        subcommands: [MasterInit.self, MasterStart.self, MasterRun.self, MasterStop.self, MasterDestroy.self, MasterSetEndpoint.self, MasterBackupCommand.self, MasterRestoreCommand.self, MasterUnit.self])
}
