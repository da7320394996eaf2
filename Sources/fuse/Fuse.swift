import FuseCommands

@main
struct Fuse {
    static func main() async {
        await FuseCommand.entry()
    }
}
