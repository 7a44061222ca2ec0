/// Bits written most significant first into bytes, exactly as Prometheus's `bstream` does: a chunk's encoding is
/// defined bit by bit, and Skiff's chunks are byte for byte Prometheus's. That includes its one quirk: writing a
/// whole byte always adds the next byte too, so a stream that ends on a byte boundary after one carries an empty
/// byte at its end.
struct BitWriter {
    private(set) var bytes: [UInt8]
    /// Bits still free in the last byte (0: a new byte is needed for the next bit; 8: the last byte is empty).
    private var free: Int = 0

    /// Writes on after `bytes`, whose last byte has `free` bits not used yet (0 to 8).
    init(bytes: [UInt8] = [], free: Int = 0) {
        self.bytes = bytes
        self.free = bytes.isEmpty ? 0 : free
    }

    /// Overwrites a whole byte already written (a count kept at the front).
    mutating func set(_ byte: UInt8, at index: Int) { bytes[index] = byte }

    mutating func writeBit(_ bit: Bool) {
        if free == 0 {
            bytes.append(0)
            free = 8
        }
        free -= 1
        if bit { bytes[bytes.count - 1] |= 1 << free }
    }

    /// Eight bits: the high ones complete the last byte, the low ones begin a new one (empty when aligned).
    mutating func writeByte(_ byte: UInt8) {
        if free == 0 {
            bytes.append(0)
            free = 8
        }
        bytes[bytes.count - 1] |= byte >> (8 - free)
        bytes.append(free == 8 ? 0 : byte << free)
    }

    /// The low `count` bits of `value`, the highest of them first: whole bytes while there are eight, then bits.
    mutating func writeBits(_ value: UInt64, _ count: Int) {
        guard count > 0 else { return }
        var bits = value << UInt64(64 - count)
        var remaining = count
        while remaining >= 8 {
            writeByte(UInt8(bits >> 56))
            bits <<= 8
            remaining -= 8
        }
        while remaining > 0 {
            writeBit(bits >> 63 == 1)
            bits <<= 1
            remaining -= 1
        }
    }
}

/// Reads what ``BitWriter`` wrote. Reading past the end throws: a chunk from disk may be damaged.
struct BitReader {
    struct Exhausted: Error {}

    private let bytes: [UInt8]
    private var position: Int
    /// Bits of `bytes[position]` already read.
    private var used = 0

    init(_ bytes: [UInt8], from offset: Int = 0) {
        self.bytes = bytes
        self.position = offset
    }

    mutating func readBit() throws(Exhausted) -> Bool {
        guard position < bytes.count else { throw Exhausted() }
        let bit = bytes[position] & (0x80 >> UInt8(used)) != 0
        used += 1
        if used == 8 {
            used = 0
            position += 1
        }
        return bit
    }

    /// Counts 1 bits, up to `limit` of them, and reads past them and the 0 that ends them (none is read when the
    /// limit is reached first): a unary number or a prefix code, a byte at a time rather than a bit.
    mutating func readOnes(upTo limit: Int) throws(Exhausted) -> Int {
        var count = 0
        while count < limit {
            guard position < bytes.count else { throw Exhausted() }
            let available = 8 - used
            // The bits not read yet, at the top of a byte.
            let rest = bytes[position] << UInt8(used)
            let ones = min((~rest).leadingZeroBitCount, available, limit - count)
            count += ones
            used += ones
            if ones < available && count < limit {
                // The 0 that ends the run.
                used += 1
                if used == 8 {
                    used = 0
                    position += 1
                }
                return count
            }
            if used == 8 {
                used = 0
                position += 1
            }
        }
        return count
    }

    mutating func readBits(_ count: Int) throws(Exhausted) -> UInt64 {
        var value: UInt64 = 0
        var remaining = count
        while remaining > 0 {
            guard position < bytes.count else { throw Exhausted() }
            let available = 8 - used
            let take = min(available, remaining)
            let byte = UInt64(bytes[position])
            let bits = (byte >> UInt64(available - take)) & ((1 << UInt64(take)) - 1)
            value = value << UInt64(take) | bits
            used += take
            remaining -= take
            if used == 8 {
                used = 0
                position += 1
            }
        }
        return value
    }

    mutating func readByte() throws(Exhausted) -> UInt8 { UInt8(try readBits(8)) }

    /// A Go unsigned varint, byte by byte; nil when it is longer than a varint can be.
    mutating func readUvarint() throws(Exhausted) -> UInt64? {
        try Varint.readUnsigned { () throws(Exhausted) -> UInt8 in try readByte() }
    }

    /// A Go (zig-zag) signed varint.
    mutating func readVarint() throws(Exhausted) -> Int64? {
        try Varint.readSigned { () throws(Exhausted) -> UInt8 in try readByte() }
    }

    /// Bits not read yet.
    var remainingBits: Int { (bytes.count - position) * 8 - used }
}

/// Go's `encoding/binary` variable-length integers, which Prometheus uses inside chunks and files.
enum Varint {
    static func appendUnsigned(_ value: UInt64, to bytes: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    /// Zig-zag, as `binary.PutVarint`.
    static func appendSigned(_ value: Int64, to bytes: inout [UInt8]) {
        appendUnsigned(UInt64(bitPattern: (value << 1) ^ (value >> 63)), to: &bytes)
    }

    /// Reads an unsigned varint byte by byte from `next`; nil when it is too long.
    static func readUnsigned<E: Error>(_ next: () throws(E) -> UInt8) throws(E) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while shift < 70 {
            let byte = try next()
            if shift == 63 && byte > 1 { return nil }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    static func readSigned<E: Error>(_ next: () throws(E) -> UInt8) throws(E) -> Int64? {
        guard let raw = try readUnsigned(next) else { return nil }
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }
}
