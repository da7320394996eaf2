import ArgumentParser
import Foundation
import FuseAgent
import FuseModel

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Create, list and revoke join tokens (on the master).",
        subcommands: [TokenCreate.self, TokenList.self, TokenRevoke.self])
}

struct TokenCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a join token for a domain and print its join string.",
        discussion: "The join string carries the secret: hand it to the joining node's operator only. It is shown once.")

    @OptionGroup var options: GlobalOptions

    @Option(help: "The domain (organisation) that joining nodes belong to.")
    var domain: String

    @Option(help: "How long the token is valid, e.g. 90s, 15m, 2h, 1d.")
    var ttl: String = "15m"

    @Option(help: "How many nodes may join with it.")
    var uses: Int = 1

    func run() async throws {
        try await Console.run {
            let domain = try NameRule.label(domain, kind: "domain")
            let ttl = try DurationText.parse(ttl)
            guard (1...10000).contains(uses) else { throw CommandFailure("bad --uses \(uses): use 1 to 10000") }
            let request = API.TokenCreateRequest(domain: domain, ttlSeconds: Int(ttl.components.seconds), uses: uses)
            let created: API.TokenCreateResponse = try await Clients.with(try await Clients.admin(options)) {
                try await $0.call("POST", "/v1/tokens", body: request)
            }
            if options.json {
                Console.json(created)
            } else {
                print(created.join)
                Console.progress("token \(created.token.id) for domain \(created.token.domain): \(created.token.maxUses) use(s), expires \(created.token.expiresAt.formatted(.iso8601))")
            }
        }
    }
}

struct TokenList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List join tokens (never their secrets).")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await Console.run {
            let tokens: [API.TokenInfo] = try await Clients.with(try await Clients.admin(options)) { try await $0.call("GET", "/v1/tokens") }
            if options.json { return Console.json(tokens) }
            print(Console.table(["ID", "DOMAIN", "USES", "EXPIRES", "STATE"], tokens.map {
                [$0.id, $0.domain, "\($0.uses)/\($0.maxUses)", $0.expiresAt.formatted(.iso8601), $0.state.rawValue]
            }))
        }
    }
}

struct TokenRevoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a join token.")

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The token's ID (see `fuse token list`).")
    var id: String

    func run() async throws {
        try await Console.run {
            guard !id.isEmpty, id.count <= 64, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
                throw CommandFailure("bad token id \"\(id)\"")
            }
            let _: Data = try await Clients.with(try await Clients.admin(options)) { try await $0.raw("DELETE", "/v1/tokens/\(id)", body: nil, timeout: .seconds(10)) }
            if options.json { Console.json(["revoked": id]) } else { print("token \(id) revoked") }
        }
    }
}
