/// PromQL's tokens, as Prometheus's lexer makes them: identifiers (metric names may hold colons; keywords are
/// told apart by the parser, since they are also valid label names), numbers (decimal, hexadecimal, `Inf`, `NaN`),
/// durations (`1h30m`, `100ms`), strings in double, single or back quotes, operators and punctuation.
struct Token: Equatable {
    enum Kind: Equatable {
        case identifier(String)
        case number(Double)
        /// Milliseconds.
        case duration(Int64)
        case string(String)
        /// `+ - * / % ^ == != <= >= < > =~ !~ =`
        case symbol(String)
        case leftParen, rightParen, leftBrace, rightBrace, leftBracket, rightBracket, comma, colon, at
        case end
    }

    let kind: Kind
    /// Byte offset of the token's first character in the query.
    let offset: Int
}

struct Lexer {
    private let bytes: [UInt8]
    private var position = 0

    init(_ query: String) { bytes = Array(query.utf8) }

    static func tokens(_ query: String) throws(PromQLError) -> [Token] {
        var lexer = Lexer(query)
        var tokens: [Token] = []
        while true {
            let token = try lexer.next()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    /// A duration as the HTTP API accepts one (`1h30m`, `500ms`): the whole text, nothing else; nil otherwise.
    static func duration(_ text: String) -> Int64? {
        var lexer = Lexer(text)
        guard let first = lexer.bytes.first, isDigit(first), let value = try? lexer.duration(from: 0),
            lexer.position == lexer.bytes.count
        else { return nil }
        return value
    }

    private mutating func next() throws(PromQLError) -> Token {
        skipSpaceAndComments()
        let start = position
        guard position < bytes.count else { return Token(kind: .end, offset: start) }
        let byte = bytes[position]
        func single(_ kind: Token.Kind) -> Token {
            position += 1
            return Token(kind: kind, offset: start)
        }
        switch byte {
        case UInt8(ascii: "("): return single(.leftParen)
        case UInt8(ascii: ")"): return single(.rightParen)
        case UInt8(ascii: "{"): return single(.leftBrace)
        case UInt8(ascii: "}"): return single(.rightBrace)
        case UInt8(ascii: "["): return single(.leftBracket)
        case UInt8(ascii: "]"): return single(.rightBracket)
        case UInt8(ascii: ","): return single(.comma)
        case UInt8(ascii: ":"):
            // Punctuation (a subquery's `[5m:1m]`); colons inside names (`job:requests:rate5m`) are part of them.
            return single(.colon)
        case UInt8(ascii: "@"): return single(.at)
        case UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "`"):
            return Token(kind: .string(try string(quote: byte)), offset: start)
        default:
            break
        }
        if let symbol = symbol() { return Token(kind: .symbol(symbol), offset: start) }
        if Self.isDigit(byte) || (byte == UInt8(ascii: ".") && Self.isDigit(peek(1) ?? 0)) {
            return try numberOrDuration(start)
        }
        if Self.isIdentifierStart(byte) {
            while position < bytes.count, Self.isIdentifierPart(bytes[position]) { position += 1 }
            let word = String(decoding: bytes[start..<position], as: UTF8.self)
            switch word.lowercased() {
            case "inf": return Token(kind: .number(.infinity), offset: start)
            case "nan": return Token(kind: .number(.nan), offset: start)
            default: return Token(kind: .identifier(word), offset: start)
            }
        }
        throw PromQLError.parse(offset: start, "unexpected character: '\(Character(Unicode.Scalar(byte)))'")
    }

    private func peek(_ ahead: Int) -> UInt8? {
        position + ahead < bytes.count ? bytes[position + ahead] : nil
    }

    private mutating func skipSpaceAndComments() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                position += 1
            case UInt8(ascii: "#"):
                while position < bytes.count, bytes[position] != UInt8(ascii: "\n") { position += 1 }
            default:
                return
            }
        }
    }

    private mutating func symbol() -> String? {
        let two = position + 1 < bytes.count ? String(decoding: bytes[position...(position + 1)], as: UTF8.self) : ""
        if ["==", "!=", "<=", ">=", "=~", "!~"].contains(two) {
            position += 2
            return two
        }
        let one = String(decoding: bytes[position...position], as: UTF8.self)
        if ["+", "-", "*", "/", "%", "^", "<", ">", "="].contains(one) {
            position += 1
            return one
        }
        return nil
    }

    /// A number, or a duration when a unit follows its digits (`5m`, `1h30m`, `250ms`).
    private mutating func numberOrDuration(_ start: Int) throws(PromQLError) -> Token {
        if bytes[position] == UInt8(ascii: "0"), let x = peek(1), x | 0x20 == UInt8(ascii: "x") {
            position += 2
            let digits = position
            while position < bytes.count, Self.isHexDigit(bytes[position]) { position += 1 }
            guard position > digits,
                let value = UInt64(String(decoding: bytes[digits..<position], as: UTF8.self), radix: 16)
            else { throw PromQLError.parse(offset: start, "bad number") }
            return Token(kind: .number(Double(value)), offset: start)
        }
        let digitsEnd = scanDigits()
        if durationUnit(at: digitsEnd) != nil {
            return Token(kind: .duration(try duration(from: start)), offset: start)
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            _ = scanDigits()
        }
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            var look = position + 1
            if look < bytes.count, bytes[look] == UInt8(ascii: "+") || bytes[look] == UInt8(ascii: "-") { look += 1 }
            if look < bytes.count, Self.isDigit(bytes[look]) {
                position = look
                _ = scanDigits()
            }
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        guard let value = Double(text) else {
            throw PromQLError.parse(offset: start, "bad number or duration syntax: \"\(text)\"")
        }
        if position < bytes.count, Self.isWordPart(bytes[position]) {
            throw PromQLError.parse(offset: start, "bad number or duration syntax: \"\(text)\"")
        }
        return Token(kind: .number(value), offset: start)
    }

    private mutating func scanDigits() -> Int {
        while position < bytes.count, Self.isDigit(bytes[position]) { position += 1 }
        return position
    }

    /// The unit at `index`, longest first (`ms` before `m`).
    private func durationUnit(at index: Int) -> String? {
        guard index < bytes.count else { return nil }
        if index + 1 < bytes.count, bytes[index] == UInt8(ascii: "m"), bytes[index + 1] == UInt8(ascii: "s") {
            return "ms"
        }
        let unit = Character(Unicode.Scalar(bytes[index]))
        return "smhdwy".contains(unit) ? String(unit) : nil
    }

    /// `1h30m`: number-unit pairs, units in decreasing order, each at most once.
    private mutating func duration(from start: Int) throws(PromQLError) -> Int64 {
        position = start
        let order = ["y", "w", "d", "h", "m", "s", "ms"]
        let milliseconds: [String: Int64] = [
            "y": 365 * 86_400_000, "w": 7 * 86_400_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1_000,
            "ms": 1,
        ]
        var total: Int64 = 0
        var lastUnit = -1
        while position < bytes.count, Self.isDigit(bytes[position]) {
            let digits = position
            let end = scanDigits()
            guard let unit = durationUnit(at: end), let rank = order.firstIndex(of: unit), rank > lastUnit,
                let count = Int64(String(decoding: bytes[digits..<end], as: UTF8.self))
            else {
                throw PromQLError.parse(offset: start, "bad duration syntax")
            }
            lastUnit = rank
            position = end + unit.utf8.count
            let (product, overflow) = count.multipliedReportingOverflow(by: milliseconds[unit] ?? 0)
            guard !overflow else { throw PromQLError.parse(offset: start, "duration out of range") }
            let (sum, tooLong) = total.addingReportingOverflow(product)
            guard !tooLong else { throw PromQLError.parse(offset: start, "duration out of range") }
            total = sum
        }
        if position < bytes.count, Self.isWordPart(bytes[position]) {
            throw PromQLError.parse(offset: start, "bad duration syntax")
        }
        return total
    }

    /// A quoted string with Go's escapes (none in back quotes).
    private mutating func string(quote: UInt8) throws(PromQLError) -> String {
        let start = position
        position += 1
        var out: [UInt8] = []
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if byte == quote { return String(decoding: out, as: UTF8.self) }
            if quote != UInt8(ascii: "`") {
                if byte == UInt8(ascii: "\n") { break }
                if byte == UInt8(ascii: "\\") {
                    try escape(into: &out, quote: quote, start: start)
                    continue
                }
            }
            out.append(byte)
        }
        throw PromQLError.parse(offset: start, "unterminated quoted string")
    }

    private mutating func escape(into out: inout [UInt8], quote: UInt8, start: Int) throws(PromQLError) {
        guard position < bytes.count else { throw PromQLError.parse(offset: start, "unterminated quoted string") }
        let byte = bytes[position]
        position += 1
        let simple: [UInt8: UInt8] = [
            UInt8(ascii: "a"): 7, UInt8(ascii: "b"): 8, UInt8(ascii: "f"): 12, UInt8(ascii: "n"): 10,
            UInt8(ascii: "r"): 13, UInt8(ascii: "t"): 9, UInt8(ascii: "v"): 11, UInt8(ascii: "\\"): 92,
        ]
        if let value = simple[byte] {
            out.append(value)
        } else if byte == quote {
            out.append(quote)
        } else if byte == UInt8(ascii: "x") || byte == UInt8(ascii: "u") || byte == UInt8(ascii: "U") {
            let count = byte == UInt8(ascii: "x") ? 2 : byte == UInt8(ascii: "u") ? 4 : 8
            guard position + count <= bytes.count,
                let value = UInt32(String(decoding: bytes[position..<(position + count)], as: UTF8.self), radix: 16)
            else { throw PromQLError.parse(offset: start, "invalid escape sequence") }
            position += count
            if count == 2 {
                out.append(UInt8(value))
            } else {
                guard let scalar = Unicode.Scalar(value) else {
                    throw PromQLError.parse(offset: start, "escape sequence is an invalid Unicode code point")
                }
                out += Array(String(Character(scalar)).utf8)
            }
        } else if (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(byte) {
            guard position + 2 <= bytes.count,
                let value = UInt32(String(decoding: bytes[(position - 1)..<(position + 2)], as: UTF8.self), radix: 8),
                value <= 255
            else { throw PromQLError.parse(offset: start, "invalid escape sequence") }
            position += 2
            out.append(UInt8(value))
        } else {
            // Go's `%#U`: the code point, and the character when it prints.
            let hex = String(byte, radix: 16, uppercase: true)
            let code = "U+" + String(repeating: "0", count: 4 - hex.count) + hex
            let printable = byte >= 0x20 && byte < 0x7F
            throw PromQLError.parse(
                offset: start,
                "unknown escape sequence \(code)" + (printable ? " '\(Character(Unicode.Scalar(byte)))'" : ""))
        }
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    static func isHexDigit(_ byte: UInt8) -> Bool { isDigit(byte) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x66) }
    static func isIdentifierStart(_ byte: UInt8) -> Bool {
        (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || byte == UInt8(ascii: "_")
    }
    static func isWordPart(_ byte: UInt8) -> Bool { isIdentifierStart(byte) || isDigit(byte) }
    static func isIdentifierPart(_ byte: UInt8) -> Bool { isWordPart(byte) || byte == UInt8(ascii: ":") }
}

/// A query Skiff cannot take, with Prometheus's wording where it has one.
public enum PromQLError: Error, Equatable, CustomStringConvertible {
    /// Byte offset in the query and what is wrong there.
    case parse(offset: Int, String)

    public var description: String {
        switch self {
        case .parse(let offset, let message): "1:\(offset + 1): parse error: \(message)"
        }
    }
}
