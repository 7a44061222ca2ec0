/// JSON read by hand where a decoder would cost more than the work around it (a queued call read at every
/// delivery): the caller walks the document in order, asking for the value it expects at each place, and skips
/// what it does not know. Strict where JSON is (no control characters in strings, valid UTF-8, valid escapes,
/// nothing after the document), so that whatever it accepts `JSONDecoder` accepts too; a caller that wants
/// `JSONDecoder`'s exact errors falls back to it when this throws.
public struct JSONScanner {
    public struct Malformed: Error, CustomStringConvertible {
        public let offset: Int
        public let expected: String

        public init(offset: Int, expected: String) {
            self.offset = offset
            self.expected = expected
        }

        public var description: String { "malformed JSON at byte \(offset): expected \(expected)" }
    }

    private let bytes: [UInt8]
    private var position = 0
    /// Objects and arrays open around the current position. Bounded like `JSONDecoder`'s (512), so that a document
    /// of nothing but `[` (a NATS client may publish any bytes to the queue) is refused instead of exhausting the
    /// stack of the thread that reads it.
    private var depth = 0
    public static let maximumDepth = 512

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    // MARK: Values

    /// Reads an object, calling `member` with each key; `member` must read (or skip) that key's value.
    public mutating func readObject(_ member: (inout JSONScanner, String) throws -> Void) throws {
        try expect(UInt8(ascii: "{"))
        try enter()
        defer { depth -= 1 }
        if try peek() == UInt8(ascii: "}") {
            position += 1
            return
        }
        while true {
            let key = try readString()
            try expect(UInt8(ascii: ":"))
            try member(&self, key)
            let next = try take()
            if next == UInt8(ascii: "}") { return }
            guard next == UInt8(ascii: ",") else { throw malformed("',' or '}'", at: position - 1) }
        }
    }

    /// Reads an array, calling `element` for each element; `element` must read (or skip) it.
    public mutating func readArray(_ element: (inout JSONScanner) throws -> Void) throws {
        try expect(UInt8(ascii: "["))
        try enter()
        defer { depth -= 1 }
        if try peek() == UInt8(ascii: "]") {
            position += 1
            return
        }
        while true {
            try element(&self)
            let next = try take()
            if next == UInt8(ascii: "]") { return }
            guard next == UInt8(ascii: ",") else { throw malformed("',' or ']'", at: position - 1) }
        }
    }

    /// Consumes a `null` if one comes next; true when it did.
    public mutating func readNull() throws -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    public mutating func readBool() throws -> Bool {
        if try peek() == UInt8(ascii: "t") {
            try literal("true")
            return true
        }
        try literal("false")
        return false
    }

    public mutating func readString() throws -> String {
        try expect(UInt8(ascii: "\""))
        let start = position
        // The common case, a string without escapes, is one validated copy of its bytes.
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                return try text(bytes[start..<(position - 1)], at: start)
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw malformed("no control character in a string", at: position) }
            position += 1
        }
        var unescaped = Array(bytes[start..<position])
        while true {
            let byte = try takeRaw()
            switch byte {
            case UInt8(ascii: "\""):
                return try text(unescaped[...], at: start)
            case UInt8(ascii: "\\"):
                try readEscape(into: &unescaped)
            case ..<0x20:
                throw malformed("no control character in a string", at: position - 1)
            default:
                unescaped.append(byte)
            }
        }
    }

    /// Skips one value of any kind.
    public mutating func skipValue() throws {
        switch try peek() {
        case UInt8(ascii: "{"):
            try readObject { scanner, _ in try scanner.skipValue() }
        case UInt8(ascii: "["):
            try readArray { try $0.skipValue() }
        case UInt8(ascii: "\""):
            _ = try readString()
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            _ = try readBool()
        case UInt8(ascii: "n"):
            _ = try readNull()
        default:
            try skipNumber()
        }
    }

    /// Checks that nothing but white space follows the document.
    public mutating func finish() throws {
        skipSpace()
        guard position == bytes.count else { throw malformed("the end of the document", at: position) }
    }

    // MARK: Pieces

    private mutating func enter() throws {
        depth += 1
        guard depth <= Self.maximumDepth else {
            throw malformed("at most \(Self.maximumDepth) nested objects and arrays", at: position - 1)
        }
    }

    private mutating func skipNumber() throws {
        let start = position
        if position < bytes.count && bytes[position] == UInt8(ascii: "-") { position += 1 }
        if position < bytes.count && bytes[position] == UInt8(ascii: "0") {
            position += 1
            guard digits() == 0 else { throw malformed("a number without leading zeros", at: start) }
        } else {
            guard digits() > 0 else { throw malformed("a value", at: start) }
        }
        if position < bytes.count && bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard digits() > 0 else { throw malformed("digits after '.'", at: position) }
        }
        if position < bytes.count && (bytes[position] | 0x20) == UInt8(ascii: "e") {
            position += 1
            if position < bytes.count && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-"))
            {
                position += 1
            }
            guard digits() > 0 else { throw malformed("an exponent", at: position) }
        }
    }

    private mutating func digits() -> Int {
        let start = position
        while position < bytes.count && bytes[position] >= UInt8(ascii: "0") && bytes[position] <= UInt8(ascii: "9") {
            position += 1
        }
        return position - start
    }

    private mutating func readEscape(into out: inout [UInt8]) throws {
        let at = position - 1
        switch try takeRaw() {
        case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
        case UInt8(ascii: "/"): out.append(UInt8(ascii: "/"))
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800..<0xDC00).contains(scalar) {
                // A high surrogate must be followed by an escaped low one.
                guard try takeRaw() == UInt8(ascii: "\\"), try takeRaw() == UInt8(ascii: "u") else {
                    throw malformed("a low surrogate", at: at)
                }
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw malformed("a low surrogate", at: at) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                throw malformed("a high surrogate first", at: at)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw malformed("a Unicode scalar", at: at) }
            out.append(contentsOf: String(Character(unicode)).utf8)
        default:
            throw malformed("a valid escape", at: at)
        }
    }

    private mutating func hex4() throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = try takeRaw()
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw malformed("a hex digit", at: position - 1)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    private func text(_ utf8: ArraySlice<UInt8>, at offset: Int) throws -> String {
        guard let text = String(validating: utf8, as: UTF8.self) else { throw malformed("UTF-8", at: offset) }
        return text
    }

    private mutating func literal(_ word: StaticString) throws {
        skipSpace()
        let start = position
        for byte in UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount) {
            guard position < bytes.count, bytes[position] == byte else { throw malformed("\(word)", at: start) }
            position += 1
        }
    }

    private mutating func expect(_ byte: UInt8) throws {
        guard try take() == byte else { throw malformed("'\(Character(Unicode.Scalar(byte)))'", at: position - 1) }
    }

    /// The next byte that is not white space, not consumed.
    private mutating func peek() throws -> UInt8 {
        skipSpace()
        guard position < bytes.count else { throw malformed("more", at: position) }
        return bytes[position]
    }

    /// The next byte that is not white space, consumed.
    private mutating func take() throws -> UInt8 {
        let byte = try peek()
        position += 1
        return byte
    }

    /// The next byte as it is (inside a string), consumed.
    private mutating func takeRaw() throws -> UInt8 {
        guard position < bytes.count else { throw malformed("the end of the string", at: position) }
        position += 1
        return bytes[position - 1]
    }

    private mutating func skipSpace() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): position += 1
            default: return
            }
        }
    }

    private func malformed(_ expected: String, at offset: Int) -> Malformed {
        Malformed(offset: offset, expected: expected)
    }
}
