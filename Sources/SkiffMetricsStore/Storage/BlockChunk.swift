/// How a block stores a run of one series' samples. Blocks are written once and read often, so they can afford to
/// choose the smaller of two encodings per chunk, which Prometheus's one XOR encoding cannot:
///
/// - **integers** (`1`): every value is an integer within ±2^53 (counters, histogram buckets, replica counts: most
///   of what a gateway exports). Values are coded as their difference from the previous one, less the chunk's
///   smallest difference, in Golomb–Rice code with the parameter that makes this chunk smallest; a counter that
///   grows by about ten a sample costs five bits where XOR spends fourteen.
/// - **xor** (`2`): anything else, in Prometheus's XOR chunk, byte for byte.
///
/// Timestamps are delta-of-delta coded exactly as in the XOR chunk. A chunk is its encoding byte then its data.
enum BlockChunk {
    static let integers: UInt8 = 1
    static let xor: UInt8 = 2

    /// The most samples a block chunk holds: large enough that a chunk's fixed cost disappears, small enough that a
    /// query for a few minutes decodes little it does not need.
    static let maxSamples = 1_024

    /// A quotient this large is written as an escape and the difference in 64 bits.
    private static let escape: UInt64 = 24

    static func encode(_ samples: ArraySlice<Sample>) -> [UInt8] {
        if let integers = integerValues(samples) { return [Self.integers] + encodeIntegers(samples, integers) }
        var chunk = XORChunk()
        for sample in samples { chunk.append(sample) }
        return [xor] + chunk.bytes
    }

    /// The values as integers when every one is exactly an integer that a Double holds without loss (and not −0,
    /// whose sign an integer cannot keep).
    private static func integerValues(_ samples: ArraySlice<Sample>) -> [Int64]? {
        var values: [Int64] = []
        values.reserveCapacity(samples.count)
        for sample in samples {
            let value = sample.value
            guard value.isFinite, value.rounded(.towardZero) == value, abs(value) <= 9_007_199_254_740_992,
                !(value == 0 && value.sign == .minus)
            else { return nil }
            values.append(Int64(value))
        }
        return values
    }

    private static func encodeIntegers(_ samples: ArraySlice<Sample>, _ values: [Int64]) -> [UInt8] {
        var header = ByteWriter()
        header.uvarint(samples.count)
        let times = samples.map(\.timestamp)
        guard let firstTime = times.first, let firstValue = values.first else { return header.bytes }
        header.varint(firstTime)
        header.varint(firstValue)
        guard times.count > 1 else { return header.bytes }
        var differences: [Int64] = []
        differences.reserveCapacity(values.count - 1)
        for index in 1..<values.count { differences.append(values[index] - values[index - 1]) }
        let smallest = differences.min() ?? 0
        let offsets = differences.map { UInt64(bitPattern: $0 - smallest) }
        let parameter = bestParameter(offsets)
        header.uvarint(UInt64(bitPattern: times[1] - firstTime))
        header.varint(smallest)
        header.uvarint(parameter)
        var writer = BitWriter()
        var delta = times[1] - firstTime
        for index in 1..<times.count {
            if index > 1 {
                let next = times[index] - times[index - 1]
                XORChunk.writeDeltaOfDelta(next &- delta, to: &writer)
                delta = next
            }
            writeRice(offsets[index - 1], parameter, to: &writer)
        }
        return header.bytes + writer.bytes
    }

    /// The Rice parameter that codes `offsets` in the fewest bits.
    private static func bestParameter(_ offsets: [UInt64]) -> Int {
        let largest = offsets.max() ?? 0
        var best = (parameter: 0, bits: Int.max)
        for parameter in 0...max(0, 64 - largest.leadingZeroBitCount) {
            var bits = 0
            for offset in offsets {
                let quotient = offset >> UInt64(parameter)
                bits += quotient < escape ? Int(quotient) + 1 + parameter : Int(escape) + 64
            }
            if bits < best.bits { best = (parameter, bits) }
        }
        return best.parameter
    }

    private static func writeRice(_ offset: UInt64, _ parameter: Int, to writer: inout BitWriter) {
        let quotient = offset >> UInt64(parameter)
        guard quotient < escape else {
            writer.writeBits((1 << escape) - 1, Int(escape))
            writer.writeBits(offset, 64)
            return
        }
        if quotient > 0 { writer.writeBits((1 << quotient) - 1, Int(quotient)) }
        writer.writeBit(false)
        if parameter > 0 { writer.writeBits(offset, parameter) }
    }

    // MARK: Reading

    /// The samples of a chunk as ``encode(_:)`` wrote it; throws when the bytes are not such a chunk.
    static func decode(_ bytes: ArraySlice<UInt8>) throws(ChunkError) -> [Sample] {
        guard let encoding = bytes.first else { throw .truncated }
        let data = Array(bytes.dropFirst())
        switch encoding {
        case xor:
            return try XORChunk(bytes: data).samples()
        case integers:
            return try decodeIntegers(data)
        default:
            throw .unknownEncoding(encoding)
        }
    }

    private static func decodeIntegers(_ data: [UInt8]) throws(ChunkError) -> [Sample] {
        var header = ByteReader(data)
        // Each sample takes at least one bit.
        guard let count = header.count(atMost: data.count * 8 + 1) else { throw .truncated }
        guard count > 0 else { return [] }
        guard let firstTime = header.varint(), let firstValue = header.varint() else { throw .truncated }
        var samples = [Sample(timestamp: firstTime, value: Double(firstValue))]
        guard count > 1 else { return samples }
        guard let firstDelta = header.uvarint(), let smallest = header.varint(),
            let parameter = header.count(atMost: 64)
        else { throw .truncated }
        samples.reserveCapacity(count)
        var reader = BitReader(data, from: header.offset)
        var delta = Int64(bitPattern: firstDelta)
        var time = firstTime
        var value = firstValue
        do {
            for index in 1..<count {
                if index > 1 { delta = delta &+ (try XORChunk.readDeltaOfDelta(from: &reader)) }
                time = time &+ delta
                value = value &+ smallest &+ Int64(bitPattern: try readRice(parameter, from: &reader))
                samples.append(Sample(timestamp: time, value: Double(value)))
            }
        } catch {
            throw .truncated
        }
        return samples
    }

    private static func readRice(_ parameter: Int, from reader: inout BitReader) throws(BitReader.Exhausted) -> UInt64 {
        let quotient = UInt64(try reader.readOnes(upTo: Int(escape)))
        if quotient == escape { return try reader.readBits(64) }
        return quotient << UInt64(parameter) | (parameter > 0 ? try reader.readBits(parameter) : 0)
    }
}
