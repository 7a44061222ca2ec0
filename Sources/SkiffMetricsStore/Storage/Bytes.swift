import SkiffPOSIX

/// Appends the store's on-disk fields: big-endian integers, varints and length-prefixed strings (the log's
/// records and the blocks' index use the same ones).
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func bigEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes += $0 }
    }

    mutating func uvarint(_ value: UInt64) { Varint.appendUnsigned(value, to: &bytes) }

    mutating func uvarint(_ value: Int) { Varint.appendUnsigned(UInt64(value), to: &bytes) }

    mutating func varint(_ value: Int64) { Varint.appendSigned(value, to: &bytes) }

    mutating func string(_ text: String) {
        uvarint(text.utf8.count)
        bytes += text.utf8
    }
}

/// Reads what ``ByteWriter`` wrote, checking every length against what is there: bytes from disk may be damaged,
/// and a damaged file must never crash a start. Every read answers nil when the bytes end too soon.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset: Int

    init(_ bytes: [UInt8], from offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var isAtEnd: Bool { offset == bytes.count }

    var remaining: Int { bytes.count - offset }

    static func bigEndian<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int, as: T.Type) -> T {
        var value: T = 0
        for index in 0..<MemoryLayout<T>.size { value = value << 8 | T(bytes[offset + index]) }
        return value
    }

    mutating func bigEndian<T: FixedWidthInteger>(_ type: T.Type) -> T? {
        guard remaining >= MemoryLayout<T>.size else { return nil }
        defer { offset += MemoryLayout<T>.size }
        return Self.bigEndian(bytes, at: offset, as: T.self)
    }

    private struct Truncated: Error {}

    private mutating func nextByte() throws(Truncated) -> UInt8 {
        guard offset < bytes.count else { throw Truncated() }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uvarint() -> UInt64? {
        (try? Varint.readUnsigned { () throws(Truncated) -> UInt8 in try nextByte() }) ?? nil
    }

    /// An unsigned varint that is a count or length of what follows: at most `limit` (the bytes left, unless
    /// each element is known to take more), so that a damaged count cannot make a reader allocate or loop long.
    mutating func count(atMost limit: Int? = nil) -> Int? {
        guard let value = uvarint(), value <= UInt64(limit ?? remaining) else { return nil }
        return Int(value)
    }

    mutating func varint() -> Int64? {
        (try? Varint.readSigned { () throws(Truncated) -> UInt8 in try nextByte() }) ?? nil
    }

    mutating func string() -> String? {
        guard let length = count() else { return nil }
        defer { offset += length }
        return String(validating: bytes[offset..<(offset + length)], as: UTF8.self)
    }

    mutating func bytes(_ length: Int) -> ArraySlice<UInt8>? {
        guard length >= 0, length <= remaining else { return nil }
        defer { offset += length }
        return bytes[offset..<(offset + length)]
    }
}
