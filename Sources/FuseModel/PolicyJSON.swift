/// A small JSON reader that remembers the line on which every value starts, so that policy
/// errors can name the line people must fix (Foundation's parsers drop that information).
struct LinedJSON: Sendable {
    indirect enum Value: Sendable {
        case object([Member])
        case array([LinedJSON])
        case string(String)
        /// The number exactly as written.
        case number(String)
        case bool(Bool)
        case null
    }

    struct Member: Sendable {
        let key: String
        let line: Int
        let value: LinedJSON
    }

    struct SyntaxError: Error, Sendable {
        let line: Int
        let message: String
    }

    let value: Value
    let line: Int

    var kind: String {
        switch value {
        case .object: "an object"
        case .array: "a list"
        case .string: "a string"
        case .number: "a number"
        case .bool: "true or false"
        case .null: "null"
        }
    }

    static func parse(_ text: String) throws(SyntaxError) -> LinedJSON {
        var reader = Reader(bytes: Array(text.utf8))
        reader.skipSpace()
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.index == reader.bytes.count else { throw reader.error("unexpected text after the end of the document") }
        return value
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0
        var line = 1

        init(bytes: [UInt8]) { self.bytes = bytes }

        func error(_ message: String) -> SyntaxError { SyntaxError(line: line, message: message) }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        var currentDescription: String {
            guard let byte = current else { return "the end of the text" }
            if byte >= 0x20 && byte < 0x7f { return "'\(Character(Unicode.Scalar(byte)))'" }
            return "byte 0x" + String(byte, radix: 16)
        }

        mutating func skipSpace() {
            while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d {
                if byte == 0x0a { line += 1 }
                index += 1
            }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws(SyntaxError) {
            guard current == byte else { throw error("expected \(what), found \(currentDescription)") }
            index += 1
        }

        mutating func value(depth: Int) throws(SyntaxError) -> LinedJSON {
            guard depth < 256 else { throw error("nested too deeply") }
            let start = line
            switch current {
            case UInt8(ascii: "{"):
                index += 1
                var members: [Member] = []
                skipSpace()
                if current == UInt8(ascii: "}") { index += 1; return LinedJSON(value: .object(members), line: start) }
                while true {
                    skipSpace()
                    let keyLine = line
                    guard current == UInt8(ascii: "\"") else { throw error("expected a key in double quotes, found \(currentDescription)") }
                    let key = try string()
                    if members.contains(where: { $0.key == key }) { throw SyntaxError(line: keyLine, message: "key \"\(key)\" appears twice in one object") }
                    skipSpace()
                    try expect(UInt8(ascii: ":"), "':' after key \"\(key)\"")
                    skipSpace()
                    members.append(Member(key: key, line: keyLine, value: try value(depth: depth + 1)))
                    skipSpace()
                    if current == UInt8(ascii: ",") { index += 1; continue }
                    try expect(UInt8(ascii: "}"), "',' or '}' after a value in an object")
                    return LinedJSON(value: .object(members), line: start)
                }
            case UInt8(ascii: "["):
                index += 1
                var elements: [LinedJSON] = []
                skipSpace()
                if current == UInt8(ascii: "]") { index += 1; return LinedJSON(value: .array(elements), line: start) }
                while true {
                    skipSpace()
                    elements.append(try value(depth: depth + 1))
                    skipSpace()
                    if current == UInt8(ascii: ",") { index += 1; continue }
                    try expect(UInt8(ascii: "]"), "',' or ']' after a value in a list")
                    return LinedJSON(value: .array(elements), line: start)
                }
            case UInt8(ascii: "\""):
                return LinedJSON(value: .string(try string()), line: start)
            case UInt8(ascii: "t"):
                try word("true"); return LinedJSON(value: .bool(true), line: start)
            case UInt8(ascii: "f"):
                try word("false"); return LinedJSON(value: .bool(false), line: start)
            case UInt8(ascii: "n"):
                try word("null"); return LinedJSON(value: .null, line: start)
            case let byte? where byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte):
                return LinedJSON(value: .number(try number()), line: start)
            default:
                throw error("expected a value, found \(currentDescription)")
            }
        }

        mutating func word(_ word: String) throws(SyntaxError) {
            let expected = Array(word.utf8)
            guard index + expected.count <= bytes.count, Array(bytes[index..<index + expected.count]) == expected else {
                throw error("expected a value, found \(currentDescription)")
            }
            index += expected.count
        }

        mutating func digits() -> Int {
            let start = index
            while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
            return index - start
        }

        mutating func number() throws(SyntaxError) -> String {
            let start = index
            if current == UInt8(ascii: "-") { index += 1 }
            if current == UInt8(ascii: "0") {
                index += 1
            } else if digits() == 0 {
                throw error("bad number: expected a digit, found \(currentDescription)")
            }
            if current == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { throw error("bad number: expected a digit after '.'") }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                index += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw error("bad number: expected a digit in the exponent") }
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        mutating func hex4() throws(SyntaxError) -> UInt32 {
            guard index + 4 <= bytes.count,
                  let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
            else { throw error("bad \\u escape in a string") }
            index += 4
            return value
        }

        mutating func string() throws(SyntaxError) -> String {
            index += 1 // opening quote
            var result: [UInt8] = []
            while true {
                guard let byte = current else { throw error("a string is not closed") }
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: result, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let escaped = current else { throw error("a string is not closed") }
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): result.append(escaped)
                    case UInt8(ascii: "b"): result.append(0x08)
                    case UInt8(ascii: "f"): result.append(0x0c)
                    case UInt8(ascii: "n"): result.append(0x0a)
                    case UInt8(ascii: "r"): result.append(0x0d)
                    case UInt8(ascii: "t"): result.append(0x09)
                    case UInt8(ascii: "u"):
                        var code = try hex4()
                        if (0xd800..<0xdc00).contains(code) {
                            guard current == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                                throw error("bad \\u escape in a string: a lone surrogate")
                            }
                            index += 2
                            let low = try hex4()
                            guard (0xdc00..<0xe000).contains(low) else { throw error("bad \\u escape in a string: a lone surrogate") }
                            code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00)
                        }
                        guard let scalar = Unicode.Scalar(code) else { throw error("bad \\u escape in a string: a lone surrogate") }
                        result += Array(String(Character(scalar)).utf8)
                    default:
                        throw error("bad escape '\\\(Character(Unicode.Scalar(escaped)))' in a string")
                    }
                case 0x0a:
                    throw error("a string is not closed before the end of the line")
                case ..<0x20:
                    throw error("a control character in a string (write it as an escape)")
                default:
                    result.append(byte)
                }
            }
        }
    }
}
