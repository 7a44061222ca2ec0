/// A chunk of one series' samples in Prometheus's XOR encoding (Gorilla's, with Prometheus's exact bit layout):
/// a big-endian sample count, the first timestamp as a signed varint and value as 64 bits, the second timestamp's
/// delta as an unsigned varint, then per sample a delta-of-delta timestamp and the value XOR the previous one.
/// Byte for byte what Prometheus 2.x writes, so blocks can be compared and one day exchanged.
public struct XORChunk: Sendable, Equatable {
    /// The encoded chunk, count included.
    public var bytes: [UInt8] { writer.bytes }

    public init() {
        writer = BitWriter(bytes: [0, 0])
    }

    /// A chunk read back from its bytes (a count, the encoded samples, the last byte's padding), ready to be
    /// appended to: the encoder's state is rebuilt by reading every sample.
    public init(bytes: [UInt8]) throws(ChunkError) {
        guard bytes.count >= 2 else { throw .truncated }
        var iterator = Iterator(bytes)
        while try iterator.nextSample() != nil {}
        // Up to a whole empty byte may follow the last sample (see `BitWriter`); more is not a chunk's.
        guard iterator.remainingBits <= 8 else { throw .trailingBytes }
        writer = BitWriter(bytes: bytes, free: iterator.remainingBits)
        appender = iterator.appenderState
    }

    public var count: Int { Int(bytes[0]) << 8 | Int(bytes[1]) }

    // MARK: Appending

    struct AppenderState: Equatable {
        var last: Sample?
        var lastDelta: Int64 = 0
        var leading: UInt8 = 0xFF
        var trailing: UInt8 = 0
    }

    private var writer: BitWriter
    private var appender = AppenderState()

    public static func == (a: XORChunk, b: XORChunk) -> Bool { a.bytes == b.bytes }

    /// Adds a sample after the last one (the caller keeps timestamps increasing; a chunk holds at most 65,535).
    public mutating func append(_ sample: Sample) {
        let count = self.count
        switch count {
        case 0:
            var head: [UInt8] = []
            Varint.appendSigned(sample.timestamp, to: &head)
            for byte in head { writer.writeByte(byte) }
            writer.writeBits(sample.value.bitPattern, 64)
        case 1:
            let delta = sample.timestamp - (appender.last?.timestamp ?? 0)
            var head: [UInt8] = []
            Varint.appendUnsigned(UInt64(bitPattern: delta), to: &head)
            for byte in head { writer.writeByte(byte) }
            writeValue(sample.value)
            appender.lastDelta = delta
        default:
            let delta = sample.timestamp - (appender.last?.timestamp ?? 0)
            Self.writeDeltaOfDelta(delta &- appender.lastDelta, to: &writer)
            writeValue(sample.value)
            appender.lastDelta = delta
        }
        appender.last = sample
        writer.set(UInt8((count + 1) >> 8), at: 0)
        writer.set(UInt8(truncatingIfNeeded: count + 1), at: 1)
    }

    /// Prometheus's `bitRange`: whether `value` fits `bits` bits as it encodes them (one more positive value
    /// than two's complement allows, one fewer negative).
    static func fits(_ value: Int64, _ bits: Int) -> Bool {
        -((1 << (bits - 1)) - 1) <= value && value <= 1 << (bits - 1)
    }

    /// A timestamp's delta of delta: `0`, or `10`, `110`, `1110` with 14, 17 or 20 bits, or `1111` with 64.
    static func writeDeltaOfDelta(_ deltaOfDelta: Int64, to writer: inout BitWriter) {
        let pattern = UInt64(bitPattern: deltaOfDelta)
        if deltaOfDelta == 0 {
            writer.writeBit(false)
        } else if fits(deltaOfDelta, 14) {
            writer.writeBits(0b10, 2)
            writer.writeBits(pattern, 14)
        } else if fits(deltaOfDelta, 17) {
            writer.writeBits(0b110, 3)
            writer.writeBits(pattern, 17)
        } else if fits(deltaOfDelta, 20) {
            writer.writeBits(0b1110, 4)
            writer.writeBits(pattern, 20)
        } else {
            writer.writeBits(0b1111, 4)
            writer.writeBits(pattern, 64)
        }
    }

    static func readDeltaOfDelta(from reader: inout BitReader) throws(BitReader.Exhausted) -> Int64 {
        let ones = try reader.readOnes(upTo: 4)
        switch ones {
        case 0: return 0
        case 4: return Int64(bitPattern: try reader.readBits(64))
        default:
            let size = [14, 17, 20][ones - 1]
            var bits = Int64(try reader.readBits(size))
            if bits > 1 << (size - 1) { bits -= 1 << size }
            return bits
        }
    }

    private mutating func writeValue(_ value: Double) {
        let delta = value.bitPattern ^ (appender.last?.value.bitPattern ?? 0)
        guard delta != 0 else {
            writer.writeBit(false)
            return
        }
        writer.writeBit(true)
        let leading = UInt8(min(delta.leadingZeroBitCount, 31))
        let trailing = UInt8(delta.trailingZeroBitCount)
        if appender.leading != 0xFF && leading >= appender.leading && trailing >= appender.trailing {
            writer.writeBit(false)
            writer.writeBits(delta >> UInt64(appender.trailing), 64 - Int(appender.leading) - Int(appender.trailing))
            return
        }
        appender.leading = leading
        appender.trailing = trailing
        writer.writeBit(true)
        writer.writeBits(UInt64(leading), 5)
        let significant = 64 - Int(leading) - Int(trailing)
        // 64 significant bits are written as 0: six bits cannot hold 64.
        writer.writeBits(UInt64(significant & 0x3F), 6)
        writer.writeBits(delta >> UInt64(trailing), significant)
    }

    // MARK: Reading

    public func makeIterator() -> Iterator { Iterator(bytes) }

    /// Every sample, in order.
    public func samples() throws(ChunkError) -> [Sample] {
        var all: [Sample] = []
        all.reserveCapacity(count)
        var iterator = makeIterator()
        while let sample = try iterator.nextSample() { all.append(sample) }
        return all
    }

    public struct Iterator {
        private var reader: BitReader
        private let total: Int
        private var read = 0
        private(set) var appenderState = AppenderState()

        init(_ bytes: [UInt8]) {
            total = bytes.count >= 2 ? Int(bytes[0]) << 8 | Int(bytes[1]) : 0
            reader = BitReader(bytes, from: 2)
        }

        /// Bits after the last sample read.
        var remainingBits: Int { reader.remainingBits }

        /// The next sample; nil after the last; throws when the bytes end before the count says they should.
        public mutating func nextSample() throws(ChunkError) -> Sample? {
            guard read < total else { return nil }
            do {
                let sample = try decodeNext()
                read += 1
                appenderState.last = sample
                return sample
            } catch {
                throw .truncated
            }
        }

        private mutating func decodeNext() throws(BitReader.Exhausted) -> Sample {
            var state = appenderState
            defer { appenderState = state }
            switch read {
            case 0:
                guard let timestamp = try reader.readVarint() else { throw BitReader.Exhausted() }
                return Sample(timestamp: timestamp, value: Double(bitPattern: try reader.readBits(64)))
            case 1:
                guard let raw = try reader.readUvarint() else { throw BitReader.Exhausted() }
                let delta = Int64(bitPattern: raw)
                let previous = state.last ?? Sample(timestamp: 0, value: 0)
                state.lastDelta = delta
                return Sample(timestamp: previous.timestamp + delta, value: try readValue(&state))
            default:
                let deltaOfDelta = try XORChunk.readDeltaOfDelta(from: &reader)
                let previous = state.last ?? Sample(timestamp: 0, value: 0)
                state.lastDelta = state.lastDelta &+ deltaOfDelta
                return Sample(timestamp: previous.timestamp &+ state.lastDelta, value: try readValue(&state))
            }
        }

        private mutating func readValue(_ state: inout AppenderState) throws(BitReader.Exhausted) -> Double {
            let previous = state.last?.value.bitPattern ?? 0
            guard try reader.readBit() else { return Double(bitPattern: previous) }
            if try reader.readBit() {
                state.leading = UInt8(try reader.readBits(5))
                var significant = Int(try reader.readBits(6))
                if significant == 0 { significant = 64 }
                state.trailing = UInt8(64 - Int(state.leading) - significant)
            }
            let significant = 64 - Int(state.leading) - Int(state.trailing)
            let bits = try reader.readBits(significant)
            return Double(bitPattern: previous ^ (bits << UInt64(state.trailing)))
        }
    }
}

public enum ChunkError: Error, Equatable, CustomStringConvertible {
    case truncated
    case trailingBytes
    case unknownEncoding(UInt8)

    public var description: String {
        switch self {
        case .truncated: "the chunk ends before its last sample"
        case .trailingBytes: "the chunk has bytes after its last sample"
        case .unknownEncoding(let byte): "the chunk's encoding \(byte) is not one this store writes"
        }
    }
}
