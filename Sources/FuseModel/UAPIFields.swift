/// The `key=value` lines of a WireGuard UAPI answer, read as bytes: without a String per line
/// (a hub's answer to `get=1` lists 2,000 peers in some 20,000 lines, and the dashboard reads
/// it every second).
struct UAPIFields {
    enum Key {
        case privateKey, listenPort, publicKey, endpoint, allowedIP, keepalive, lastHandshake, receivedBytes, sentBytes, errno, other
        /// A line without `=` (its value is the whole line).
        case malformed
    }

    private static let keys: [(name: [UInt8], key: Key)] = ([
        ("public_key", .publicKey), ("endpoint", .endpoint), ("allowed_ip", .allowedIP), ("last_handshake_time_sec", .lastHandshake),
        ("rx_bytes", .receivedBytes), ("tx_bytes", .sentBytes), ("persistent_keepalive_interval", .keepalive),
        ("private_key", .privateKey), ("listen_port", .listenPort), ("errno", .errno),
    ] as [(String, Key)]).map { (Array($0.0.utf8), $0.1) }

    /// One line: its key, and its value's bytes.
    struct Field {
        let key: Key
        let value: ArraySlice<UInt8>

        var text: String { String(decoding: value, as: UTF8.self) }

        /// The value as a decimal number; nil when it is not one.
        var number: Int64? {
            guard !value.isEmpty else { return nil }
            var result: Int64 = 0
            for byte in value {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                let (tens, overflow) = result.multipliedReportingOverflow(by: 10)
                let (sum, carry) = tens.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
                guard !overflow, !carry else { return nil }
                result = sum
            }
            return result
        }
    }

    /// Calls `body` with each non-empty line in order.
    static func scan(_ text: String, _ body: (Field) throws -> Void) rethrows {
        let bytes = Array(text.utf8)
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else {
                try body(Field(key: .malformed, value: line))
                continue
            }
            let name = line[..<equals]
            let key = keys.first { $0.name.count == name.count && $0.name.elementsEqual(name) }?.key ?? .other
            try body(Field(key: key, value: line[(equals + 1)...]))
        }
    }
}
