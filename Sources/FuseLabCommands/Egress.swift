import ArgumentParser
import Foundation
import FuseLab

struct Egress: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set what a domain's router lets out of its LAN, at run time.",
        discussion: """
            open: everything; no-udp: everything but UDP, and no UDP comes in either (WireGuard \
            cannot leave; a FUSE node there reaches the hub over the relay through the master's API \
            port); api-only: only TCP to the master's API port leaves (and no UDP comes in). Replies \
            to what may leave come back in. companyC of \
            'fuse-lab up --udp-blocked-domain' starts as no-udp. Example: \
            'fuse-lab egress companyC open' lifts the block, 'fuse-lab egress companyC no-udp' restores it.
            """)

    @OptionGroup var options: PrefixOption
    @Argument(help: "The domain (crisis, companyA, companyB, companyC).")
    var domain: String
    @Argument(help: "open, no-udp or api-only.")
    var egress: LabEgress
    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let lab = try Lab.open(prefix: options.prefix)
        try lab.setEgress(egress, domain: domain)
        if json { printJSON(try JSONEncoder().encode(["domain": domain, "egress": egress.rawValue])) } else { print("\(domain): egress \(egress.rawValue)") }
    }
}

extension LabEgress: ExpressibleByArgument {}
