import ArgumentParser
import Foundation
import FuseAgent
import FuseModel

/// `fuse dashboard`: where the crisis centre's dashboard is, and a login for it.
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Print the dashboard's address and a new operator login for it (on the master).",
        discussion: """
            The dashboard (federation view and video wall) is served by the control plane over HTTPS \
            with the federation's certificate, at https://ENDPOINT:API_PORT/dashboard/. The login token \
            is shown once, is valid for --ttl, and may be used by several browsers until then; the \
            master keeps only its digest (and forgets it when it restarts).
            """)

    @OptionGroup var options: GlobalOptions

    @Option(help: "How long the login is valid, e.g. 30m, 12h, 2d (at most 30d).")
    var ttl: String = "12h"

    func run() async throws {
        try await Console.run {
            let ttl = try DurationText.parse(ttl)
            let login: API.DashboardLogin = try await Clients.with(try await Clients.admin(options)) {
                try await $0.call("POST", "/v1/dashboard/logins", body: API.DashboardLoginRequest(ttlSeconds: Int(ttl.components.seconds)))
            }
            if options.json { return Console.json(login) }
            print("dashboard: \(login.url)")
            print("login:     \(login.token)")
            print("direct:    \(login.url)#login=\(login.token)")
            Console.progress("the login is valid until \(login.expiresAt.formatted(.iso8601)); the browser must trust the federation's CA (\(options.masterState.caPath))")
        }
    }
}
