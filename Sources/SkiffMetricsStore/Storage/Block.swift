import SkiffPOSIX

/// An immutable block: every series' samples for a time range `[minTime, maxTime)`, in one file under
/// `metrics/blocks/`. The head is cut into blocks of two hours; compaction merges them into longer ones; retention
/// deletes whole blocks. The index is read into memory when the block opens; chunks are read from the file when a
/// query needs them.
///
/// The file: `SKIFFTSB` and a version byte · the chunks, each a ``BlockChunk`` · the index · a footer of 44 bytes:
/// index offset and length (u64), minTime and maxTime (i64), the index's CRC-32C (u32), `SKIFFEND`.
/// The index: the compaction level · the symbols (every label name and value once, sorted) · the series in label
/// order, each its labels as symbol numbers and its chunks (first and last time, length, sample count and
/// CRC-32C; chunks follow one another, so offsets are implied) · the postings, label pair by pair, as the series'
/// ordinals. All integers in the index are varints, all times deltas.
final class Block {
    struct ChunkMeta {
        let first: Int64
        let last: Int64
        let offset: Int
        let length: Int
        let samples: Int
        let checksum: UInt32
    }

    struct Series {
        let labels: Labels
        let chunks: [ChunkMeta]
    }

    static let magic = Array("SKIFFTSB".utf8)
    static let endMagic = Array("SKIFFEND".utf8)
    static let version: UInt8 = 1
    static let footerSize = 44

    let path: String
    let minTime: Int64
    let maxTime: Int64
    let level: Int
    let series: [Series]
    let sampleCount: Int
    let fileBytes: Int
    private let postings: Postings
    private let file: SegmentFile

    /// Opens a block file and reads its index; throws ``BlockError`` when it is not a whole block.
    init(path: String) throws(BlockError) {
        self.path = path
        let file: SegmentFile
        do {
            file = try SegmentFile(path: path, create: false)
        } catch {
            throw .unreadable(path, error.description)
        }
        let size = file.size
        guard size >= Self.magic.count + 1 + Self.footerSize else { throw .damaged(path, "shorter than a block") }
        let footer: [UInt8]
        let start: [UInt8]
        do {
            footer = try file.read(at: size - Self.footerSize, count: Self.footerSize)
            start = try file.read(at: 0, count: Self.magic.count + 1)
        } catch {
            throw .unreadable(path, error.description)
        }
        guard Array(start.prefix(Self.magic.count)) == Self.magic, start.last == Self.version,
            Array(footer.suffix(Self.endMagic.count)) == Self.endMagic
        else { throw .damaged(path, "not a block of this version") }
        let indexOffset = Int(clamping: ByteReader.bigEndian(footer, at: 0, as: UInt64.self))
        let indexLength = Int(clamping: ByteReader.bigEndian(footer, at: 8, as: UInt64.self))
        minTime = Int64(bitPattern: ByteReader.bigEndian(footer, at: 16, as: UInt64.self))
        maxTime = Int64(bitPattern: ByteReader.bigEndian(footer, at: 24, as: UInt64.self))
        let checksum = ByteReader.bigEndian(footer, at: 32, as: UInt32.self)
        let chunksStart = Self.magic.count + 1
        guard indexOffset >= chunksStart, indexLength <= size - Self.footerSize - indexOffset,
            indexOffset + indexLength == size - Self.footerSize
        else { throw .damaged(path, "its footer points outside the file") }
        let index: [UInt8]
        do {
            index = try file.read(at: indexOffset, count: indexLength)
        } catch {
            throw .unreadable(path, error.description)
        }
        guard CRC32C.checksum(index) == checksum else { throw .damaged(path, "its index fails its checksum") }
        guard let parsed = Self.parseIndex(index, chunksStart: chunksStart, chunksEnd: indexOffset, minTime: minTime)
        else { throw .damaged(path, "its index cannot be read") }
        level = parsed.level
        series = parsed.series
        postings = parsed.postings
        sampleCount = parsed.series.reduce(0) { $0 + $1.chunks.reduce(0) { $0 + $1.samples } }
        fileBytes = size
        self.file = file
    }

    private static func parseIndex(_ index: [UInt8], chunksStart: Int, chunksEnd: Int, minTime: Int64)
        -> (level: Int, series: [Series], postings: Postings)?
    {
        var reader = ByteReader(index)
        guard let level = reader.count(atMost: 64), let symbolCount = reader.count() else { return nil }
        var symbols: [String] = []
        symbols.reserveCapacity(symbolCount)
        for _ in 0..<symbolCount {
            guard let symbol = reader.string() else { return nil }
            symbols.append(symbol)
        }
        func symbol() -> String? {
            guard let number = reader.count(atMost: symbols.count - 1) else { return nil }
            return symbols[number]
        }
        guard let seriesCount = reader.count() else { return nil }
        var series: [Series] = []
        series.reserveCapacity(seriesCount)
        var offset = chunksStart
        for _ in 0..<seriesCount {
            guard let labelCount = reader.count() else { return nil }
            var pairs: [(String, String)] = []
            for _ in 0..<labelCount {
                guard let name = symbol(), let value = symbol() else { return nil }
                pairs.append((name, value))
            }
            guard let chunkCount = reader.count() else { return nil }
            var chunks: [ChunkMeta] = []
            var previous = minTime
            for _ in 0..<chunkCount {
                guard let firstDelta = reader.varint(), let span = reader.uvarint(),
                    let length = reader.count(atMost: chunksEnd - offset),
                    let samples = reader.count(atMost: Int(UInt32.max)), let checksum = reader.bigEndian(UInt32.self)
                else { return nil }
                let first = previous &+ firstDelta
                let last = first &+ Int64(bitPattern: span)
                chunks.append(
                    ChunkMeta(
                        first: first, last: last, offset: offset, length: length, samples: samples, checksum: checksum))
                offset += length
                previous = last
            }
            series.append(Series(labels: Labels(pairs), chunks: chunks))
        }
        guard let pairCount = reader.count() else { return nil }
        var lists: [String: [String: [UInt64]]] = [:]
        for _ in 0..<pairCount {
            guard let name = symbol(), let value = symbol(), let count = reader.count(atMost: seriesCount) else {
                return nil
            }
            var list: [UInt64] = []
            list.reserveCapacity(count)
            var ordinal: UInt64 = 0
            for index in 0..<count {
                guard let delta = reader.uvarint() else { return nil }
                ordinal = index == 0 ? delta : ordinal &+ delta
                guard ordinal < UInt64(seriesCount) else { return nil }
                list.append(ordinal)
            }
            lists[name, default: [:]][value] = list
        }
        guard reader.isAtEnd, offset == chunksEnd else { return nil }
        return (level, series, Postings(lists: lists))
    }

    // MARK: Reading

    /// The series every matcher accepts with samples from `start` through `end`, in label order; nil when the
    /// chunks to decode hold more than `budget` samples (counted from the index, before anything is read), which
    /// is then what is left of it.
    func select(_ matchers: [LabelMatcher], from start: Int64, through end: Int64, budget: inout Int)
        throws(BlockError) -> [(Labels, [Sample])]?
    {
        guard start < maxTime, end >= minTime else { return [] }
        let ordinals = postings.candidates(matchers) ?? (0..<UInt64(series.count)).map { $0 }
        var found: [(Labels, [Sample])] = []
        for ordinal in ordinals {
            let entry = series[Int(ordinal)]
            guard matchers.allSatisfy({ $0.matches(entry.labels[$0.name]) }) else { continue }
            for chunk in entry.chunks where chunk.last >= start && chunk.first <= end { budget -= chunk.samples }
            guard budget >= 0 else { return nil }
            let samples = try samples(of: entry, from: start, through: end)
            if !samples.isEmpty { found.append((entry.labels, samples)) }
        }
        return found
    }

    /// The label sets of the matching series with a chunk overlapping `start` through `end` (nothing is decoded).
    func labelSets(_ matchers: [LabelMatcher], from start: Int64, through end: Int64) -> [Labels] {
        guard start < maxTime, end >= minTime else { return [] }
        let ordinals = postings.candidates(matchers) ?? (0..<UInt64(series.count)).map { $0 }
        return ordinals.compactMap { ordinal in
            let entry = series[Int(ordinal)]
            guard matchers.allSatisfy({ $0.matches(entry.labels[$0.name]) }),
                entry.chunks.contains(where: { $0.last >= start && $0.first <= end })
            else { return nil }
            return entry.labels
        }
    }

    /// Each matching series' newest sample from `start` through `end`, decoding only the last chunk that reaches
    /// into that range.
    func newest(_ matchers: [LabelMatcher], from start: Int64, through end: Int64) throws(BlockError)
        -> [(Labels, Sample)]
    {
        guard start < maxTime, end >= minTime else { return [] }
        let ordinals = postings.candidates(matchers) ?? (0..<UInt64(series.count)).map { $0 }
        var found: [(Labels, Sample)] = []
        for ordinal in ordinals {
            let entry = series[Int(ordinal)]
            guard matchers.allSatisfy({ $0.matches(entry.labels[$0.name]) }),
                let chunk = entry.chunks.last(where: { $0.first <= end && $0.last >= start }),
                let sample = try read(chunk).last(where: { $0.timestamp <= end && $0.timestamp >= start })
            else { continue }
            found.append((entry.labels, sample))
        }
        return found
    }

    /// Each matching series' last sample that is not a staleness marker, reading chunks from the end.
    func lastSamples(_ matchers: [LabelMatcher]) throws(BlockError) -> [(Labels, Sample)] {
        let ordinals = postings.candidates(matchers) ?? (0..<UInt64(series.count)).map { $0 }
        var found: [(Labels, Sample)] = []
        for ordinal in ordinals {
            let entry = series[Int(ordinal)]
            guard matchers.allSatisfy({ $0.matches(entry.labels[$0.name]) }) else { continue }
            for chunk in entry.chunks.reversed() {
                if let last = try read(chunk).last(where: { $0.value.bitPattern != Sample.staleNaN.bitPattern }) {
                    found.append((entry.labels, last))
                    break
                }
            }
        }
        return found
    }

    /// A series' samples from `start` through `end`, reading only the chunks that overlap.
    func samples(of entry: Series, from start: Int64, through end: Int64) throws(BlockError) -> [Sample] {
        var found: [Sample] = []
        for chunk in entry.chunks where chunk.last >= start && chunk.first <= end {
            let decoded = try read(chunk)
            if chunk.first >= start && chunk.last <= end {
                found += decoded
            } else {
                found += decoded.filter { $0.timestamp >= start && $0.timestamp <= end }
            }
        }
        return found
    }

    private func read(_ chunk: ChunkMeta) throws(BlockError) -> [Sample] {
        let bytes: [UInt8]
        do {
            bytes = try file.read(at: chunk.offset, count: chunk.length)
        } catch {
            throw .unreadable(path, error.description)
        }
        guard CRC32C.checksum(bytes) == chunk.checksum else { throw .damaged(path, "a chunk fails its checksum") }
        do {
            let samples = try BlockChunk.decode(bytes[...])
            guard samples.count == chunk.samples else {
                throw BlockError.damaged(path, "a chunk holds other samples than its index says")
            }
            return samples
        } catch let error as BlockError {
            throw error
        } catch {
            throw .damaged(path, "a chunk cannot be decoded: \(error)")
        }
    }

    var labelNames: [String] { postings.labelNames }

    func labelValues(_ name: String) -> [String] { postings.labelValues(name) }
}

public enum BlockError: Error, Equatable, CustomStringConvertible {
    case unreadable(String, String)
    case damaged(String, String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "cannot read the metrics block \(path): \(reason)"
        case .damaged(let path, let reason):
            "the metrics block \(path) is damaged (\(reason)); move it away to start without its samples"
        }
    }
}
