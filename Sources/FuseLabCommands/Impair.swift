import ArgumentParser
import Foundation
import FuseLab
import FuseModel
import FuseSystem

struct Impair: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delay, jitter, loss and rate on a WAN link of a running lab, set and changed at run time.",
        discussion: """
            LINK is a domain's link to the WAN: the domain (crisis, companyA, companyB), its router \
            (crisis-r, a-r, b-r) or the link's name in the WAN namespace (r-companyA). Without a \
            LINK, shows every link's impairment and packet counts. The kernel here has no netem, so \
            the link's traffic detours through a user-space forwarder on a TUN device in the WAN \
            namespace (policy routing), one process per link; 'impair LINK --clear' or \
            'fuse-lab down' removes it. Delay and jitter are round-trip figures, half in each \
            direction (--delay 100ms adds 100 ms to every ping across the link); loss and rate \
            apply to each direction. Options not given are zero (a new call replaces the whole \
            impairment).
            """)

    @OptionGroup var options: PrefixOption
    @Argument(help: "The WAN link: a domain, its router or its WAN link name.")
    var link: String?
    @Option(help: "Added round-trip time, e.g. 100ms (half each way).", transform: LinkImpairment.parseDuration)
    var delay: Double = 0
    @Option(help: "Round-trip jitter, e.g. 5ms (each way uniform within ± half; never reorders).", transform: LinkImpairment.parseDuration)
    var jitter: Double = 0
    @Option(help: "Random loss per packet and direction, e.g. 5%.", transform: LinkImpairment.parsePercent)
    var loss: Double = 0
    @Option(help: "Rate cap per direction (token bucket, 50 ms queue), e.g. 20mbit.", transform: LinkImpairment.parseRate)
    var rate: Double?
    @Flag(help: "Remove the link's impairment and its forwarder.")
    var clear = false
    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        if clear, link == nil { throw ValidationError("--clear needs a LINK") }
        if clear, delay > 0 || jitter > 0 || loss > 0 || rate != nil { throw ValidationError("--clear takes no --delay, --jitter, --loss or --rate") }
    }

    func run() throws {
        let lab = try Lab.open(prefix: options.prefix)
        if let link {
            if clear {
                try lab.clearImpairment(link)
                if !json { print("link \(try lab.topology.impairedLink(link).domain): impairment cleared") }
            } else {
                let impairment = LinkImpairment(delay: delay, jitter: jitter, loss: loss, rate: rate)
                let status = try lab.impair(link, impairment)
                if !json { print("link \(try lab.topology.impairedLink(link).domain): \(status.impairment) (forwarder pid \(status.pid))") }
            }
            if !json { return }
        }
        let states = lab.impairments()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let domain = try link.map { try lab.topology.impairedLink($0).domain }
            printJSON(try encoder.encode(states.filter { domain == nil || $0.link == domain }))
            return
        }
        print(renderTable(["LINK", "IMPAIRMENT", "TO DOMAIN (pkts/lost/dropped)", "FROM DOMAIN (pkts/lost/dropped)"], states.map { state in
            guard let status = state.status else { return [state.link, "none", "-", "-"] }
            func counts(_ c: DirectionCounters) -> String { "\(c.packets)/\(c.lost)/\(c.dropped)" }
            return [state.link, status.impairment.description, counts(status.toDomain), counts(status.fromDomain)]
        }), terminator: "")
    }
}

/// The forwarder of one impaired link (started by `impair`, in the WAN namespace).
struct ImpairForward: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "impair-forward",
        abstract: "Internal: the user-space forwarder of one impaired WAN link (started by 'fuse-lab impair').",
        shouldDisplay: false)

    @Option(help: "The TUN device to create.")
    var device: String
    @Option(help: "The link's subnet (packets to it go towards the domain).", transform: { try IPv4CIDR(parsing: $0) })
    var subnet: IPv4CIDR
    @Option(help: "The control file (JSON) to follow.")
    var control: String
    @Option(help: "The status file (JSON) to write.")
    var status: String

    func run() throws {
        let forwarder = ImpairmentForwarder(device: try TunDevice.open(name: device), subnet: subnet, controlFile: control, statusFile: status)
        try forwarder.run()
    }
}
