import FuseLabCommands

FuseLabCommand.entry()
