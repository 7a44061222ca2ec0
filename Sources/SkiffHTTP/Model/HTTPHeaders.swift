/// Header fields kept as bytes: one buffer for every name and value, plus ranges into it.
/// Strings are only made when a caller asks for one, so parsing and forwarding stay byte-level.
/// Names compare ASCII-case-insensitively; order and duplicates are preserved.
public struct HTTPHeaders: Sendable, Equatable {
    @usableFromInline var storage: [UInt8]
    @usableFromInline var fields: [Field]

    @usableFromInline
    struct Field: Sendable, Equatable {
        var name: Range<Int>
        var value: Range<Int>
    }

    public init() {
        storage = []
        fields = []
    }

    public init(_ pairs: [(String, String)]) {
        self.init()
        for (name, value) in pairs { add(name: name, value: value) }
    }

    init(storage: [UInt8], fields: [Field]) {
        self.storage = storage
        self.fields = fields
    }

    /// Room for `fields` more fields of `bytes` more name and value bytes, so that adding them allocates once.
    public mutating func reserveCapacity(fields: Int, bytes: Int) {
        storage.reserveCapacity(storage.count + bytes)
        self.fields.reserveCapacity(self.fields.count + fields)
    }

    public var count: Int { fields.count }
    public var isEmpty: Bool { fields.isEmpty }

    /// Appends a field. The caller guarantees the bytes are valid field syntax (no CR/LF).
    public mutating func add(name: String, value: String) {
        var name = name
        var value = value
        let nameStart = storage.count
        name.withUTF8 { storage.append(contentsOf: $0) }
        let valueStart = storage.count
        value.withUTF8 { storage.append(contentsOf: $0) }
        fields.append(Field(name: nameStart..<valueStart, value: valueStart..<storage.count))
    }

    /// Appends a field whose value is bytes (e.g. forwarded unchanged from another message).
    public mutating func add(name: String, value: some Collection<UInt8>) {
        var name = name
        let nameStart = storage.count
        name.withUTF8 { storage.append(contentsOf: $0) }
        let valueStart = storage.count
        storage.append(contentsOf: value)
        fields.append(Field(name: nameStart..<valueStart, value: valueStart..<storage.count))
    }

    /// Replaces every field of that name with one field, or appends it.
    public mutating func replaceOrAdd(name: String, value: String) {
        remove(name: name)
        add(name: name, value: value)
    }

    /// Removes every field of that name.
    public mutating func remove(name: String) {
        let storage = self.storage
        guard fields.contains(where: { HTTPTokens.equalsIgnoringCase(storage[$0.name], name) }) else { return }
        fields.removeAll { HTTPTokens.equalsIgnoringCase(storage[$0.name], name) }
    }

    public func contains(name: String) -> Bool { fields.contains { nameMatches($0, name) } }

    /// The first value of the field, as a String.
    public subscript(name: String) -> String? {
        guard let field = fields.first(where: { nameMatches($0, name) }) else { return nil }
        return String(decoding: storage[field.value], as: UTF8.self)
    }

    /// Every value of the field, in order.
    public func values(name: String) -> [String] {
        fields.filter { nameMatches($0, name) }.map { String(decoding: storage[$0.value], as: UTF8.self) }
    }

    /// The first value's bytes, without making a String.
    public func firstValueBytes(name: String) -> ArraySlice<UInt8>? {
        guard let field = fields.first(where: { nameMatches($0, name) }) else { return nil }
        return storage[field.value]
    }

    /// True when a comma-separated field of that name lists `token` (case-insensitive), e.g. `Connection: close`.
    public func containsToken(name: String, token: String) -> Bool {
        for field in fields where nameMatches(field, name) {
            if HTTPTokens.list(storage[field.value], contains: token) { return true }
        }
        return false
    }

    /// Calls `body` with each field's name and value bytes, in order, without allocating.
    public func forEachField(_ body: (ArraySlice<UInt8>, ArraySlice<UInt8>) throws -> Void) rethrows {
        for field in fields { try body(storage[field.name], storage[field.value]) }
    }

    /// Keeps only the fields for which `isIncluded(nameBytes)` is true.
    public mutating func filterFields(_ isIncluded: (ArraySlice<UInt8>) -> Bool) {
        let storage = self.storage
        // Most messages keep every field: leave a shared copy shared instead of copying it to remove nothing.
        guard fields.contains(where: { !isIncluded(storage[$0.name]) }) else { return }
        fields.removeAll { !isIncluded(storage[$0.name]) }
    }

    /// Appends `Name: value\r\n` for each field.
    public func write(into buffer: inout [UInt8]) {
        for field in fields {
            buffer.append(contentsOf: storage[field.name])
            buffer.append(0x3A)  // ':'
            buffer.append(0x20)
            buffer.append(contentsOf: storage[field.value])
            buffer.append(0x0D)
            buffer.append(0x0A)
        }
    }

    func nameMatches(_ field: Field, _ name: String) -> Bool {
        HTTPTokens.equalsIgnoringCase(storage[field.name], name)
    }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        guard lhs.fields.count == rhs.fields.count else { return false }
        for (a, b) in zip(lhs.fields, rhs.fields) {
            guard HTTPTokens.equalsIgnoringCase(lhs.storage[a.name], rhs.storage[b.name]),
                lhs.storage[a.value].elementsEqual(rhs.storage[b.value])
            else { return false }
        }
        return true
    }
}

extension HTTPHeaders: Sequence {
    /// Iterates (name, value) as Strings. Allocates per field; use ``forEachField(_:)`` on hot paths.
    public func makeIterator() -> AnyIterator<(name: String, value: String)> {
        var index = 0
        return AnyIterator {
            guard index < fields.count else { return nil }
            defer { index += 1 }
            let field = fields[index]
            return (
                String(decoding: storage[field.name], as: UTF8.self),
                String(decoding: storage[field.value], as: UTF8.self)
            )
        }
    }
}

extension HTTPHeaders: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }
}

/// Byte-level token helpers shared by the parser and the header type.
public enum HTTPTokens {
    @usableFromInline
    static func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }

    /// ASCII case-insensitive equality of bytes and a String.
    @inlinable
    public static func equalsIgnoringCase(_ bytes: some Collection<UInt8>, _ string: String) -> Bool {
        equalsIgnoringCase(bytes, string.utf8)
    }

    /// ASCII case-insensitive equality of two byte sequences.
    @inlinable
    public static func equalsIgnoringCase(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) where lower(x) != lower(y) { return false }
        return true
    }

    /// True when the comma-separated list contains `token`, ignoring case and optional whitespace.
    public static func list(_ bytes: some BidirectionalCollection<UInt8>, contains token: String) -> Bool {
        var found = false
        forEachListItem(bytes) { item in
            if equalsIgnoringCase(item, token) { found = true }
        }
        return found
    }

    /// Calls `body` with each non-empty, whitespace-trimmed item of a comma-separated list, as slices of `bytes`
    /// (no copy: this runs for Connection and Content-Length on every request).
    static func forEachListItem<C: BidirectionalCollection<UInt8>>(_ bytes: C, _ body: (C.SubSequence) -> Void) {
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let comma = bytes[start...].firstIndex(of: 0x2C) ?? bytes.endIndex
            var s = start
            var e = comma
            while s < e && (bytes[s] == 0x20 || bytes[s] == 0x09) { s = bytes.index(after: s) }
            while e > s && (bytes[bytes.index(before: e)] == 0x20 || bytes[bytes.index(before: e)] == 0x09) {
                e = bytes.index(before: e)
            }
            if s < e { body(bytes[s..<e]) }
            start = comma == bytes.endIndex ? comma : bytes.index(after: comma)
        }
    }

    /// A non-negative decimal of 1 to 18 digits and nothing else (Content-Length), or nil.
    static func decimalValue(_ bytes: some Collection<UInt8>) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value = 0
        for byte in bytes {
            let digit = byte &- 0x30
            guard digit < 10 else { return nil }
            value = value * 10 + Int(digit)
        }
        return value
    }
}

extension HTTPHeaders {
    /// Whether `text` is a token (RFC 9110 §5.6.2): what a field name or a method may be. For text that comes from
    /// elsewhere (a NATS message, a queued call) before it is sent as HTTP.
    public static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(HTTPParser.isTokenByte)
    }

    /// Whether `text` may be a field value: visible characters, spaces, tabs and UTF-8, no CR, LF or other controls.
    public static func isValidValue(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 == 0x09 || (0x20...0x7E).contains($0) || $0 >= 0x80 }
    }
}
