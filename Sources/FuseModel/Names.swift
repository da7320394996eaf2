/// Validation of the names people give: nodes, domains, federations, interfaces.
public enum NameRule {
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Node, domain and federation names: DNS labels (they become `NAME.DOMAIN.fuse`):
    /// 1–63 characters of a–z, 0–9 and '-', starting and ending with a letter or digit. The
    /// case people typed is kept for display; like DNS, FUSE compares names without case.
    public static func label(_ name: String, kind: String) throws -> String {
        let lower = name.lowercased()
        let allowed = lower.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        guard !lower.isEmpty, lower.count <= 63, allowed, lower.first != "-", lower.last != "-" else {
            throw Invalid(description: "bad \(kind) name \"\(echo(name))\": use 1-63 letters, digits or '-', not starting or ending with '-'")
        }
        return name
    }

    /// A value someone typed, as an error message may repeat it: at most 64 characters, so
    /// that a huge input is never echoed back (or logged) in full.
    public static func echo(_ value: String) -> String {
        value.count <= 64 ? value : String(value.prefix(64)) + "…(\(value.count) characters)"
    }

    /// Linux interface names: 1–15 characters, no '/', ':' or whitespace.
    public static func interface(_ name: String) throws -> String {
        let bad = name.contains { $0 == "/" || $0 == ":" || $0.isWhitespace || !$0.isASCII }
        guard !name.isEmpty, name.utf8.count <= 15, !bad, name != ".", name != ".." else {
            throw Invalid(description: "bad interface name \"\(echo(name))\": use 1-15 ASCII characters without '/', ':' or spaces")
        }
        return name
    }

    /// A TCP or UDP port number.
    public static func port(_ value: Int, kind: String) throws -> UInt16 {
        guard (1...65535).contains(value) else {
            throw Invalid(description: "bad \(kind) port \(value): use 1-65535")
        }
        return UInt16(value)
    }

    /// An endpoint host: an IPv4 address or a DNS name.
    public static func host(_ host: String) throws -> String {
        if IPv4Address(host) != nil { return host }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        let isNumericOnly = host.allSatisfy { $0.isNumber || $0 == "." }
        guard !host.isEmpty, host.count <= 253, !isNumericOnly,
              labels.allSatisfy({ (try? label(String($0), kind: "host")) != nil })
        else { throw Invalid(description: "bad endpoint host \"\(echo(host))\": use an IPv4 address or a DNS name") }
        return host.lowercased()
    }
}
