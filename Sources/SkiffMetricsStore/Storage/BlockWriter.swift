import SkiffPOSIX

/// Writes a block one series at a time (in label order), so that compacting long blocks never holds all their
/// samples at once: chunks go to a temporary file as they are encoded, the index is kept until the end. The
/// block appears under its name only once it is whole and synced; a crash leaves a `.tmp` file that the store
/// removes when it opens.
struct BlockWriter {
    let path: String
    private let temporary: String
    private let minTime: Int64
    private let maxTime: Int64
    private let level: Int
    private let file: SegmentFile
    private var buffer: [UInt8] = []
    private var offset = 0
    private var series: [(Labels, [Block.ChunkMeta])] = []

    /// A block for `[minTime, maxTime)` of compaction level `level` (1: cut from the head) in `directory`.
    init(directory: String, minTime: Int64, maxTime: Int64, level: Int) throws(SystemError) {
        path = "\(directory)/\(Self.hex(minTime))-\(Self.hex(maxTime)).block"
        temporary = path + ".tmp"
        self.minTime = minTime
        self.maxTime = maxTime
        self.level = level
        try DurableFile.makeDirectories(directory)
        FileSystem.removeIfPresent(temporary)
        file = try SegmentFile(path: temporary, create: true)
        buffer = Block.magic + [Block.version]
        offset = buffer.count
    }

    private static func hex(_ time: Int64) -> String {
        let digits = String(UInt64(bitPattern: time), radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// Adds a series (after every series that sorts before it) with its samples, oldest first, all in the block's
    /// range. A series without samples is left out.
    mutating func add(_ labels: Labels, _ samples: [Sample]) throws(SystemError) {
        guard !samples.isEmpty else { return }
        var chunks: [Block.ChunkMeta] = []
        var start = samples.startIndex
        while start < samples.endIndex {
            let end = min(start + BlockChunk.maxSamples, samples.endIndex)
            let bytes = BlockChunk.encode(samples[start..<end])
            chunks.append(
                Block.ChunkMeta(
                    first: samples[start].timestamp, last: samples[end - 1].timestamp, offset: offset,
                    length: bytes.count, samples: end - start, checksum: CRC32C.checksum(bytes)))
            buffer += bytes
            offset += bytes.count
            start = end
        }
        series.append((labels, chunks))
        if buffer.count >= 1 << 20 { try flush() }
    }

    private mutating func flush() throws(SystemError) {
        try file.append(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes the index and footer, syncs the file and gives it its name; answers the block, opened.
    func finish() throws(BlockError) -> Block {
        var writer = self
        do {
            let index = writer.index()
            var footer = ByteWriter()
            footer.bigEndian(UInt64(writer.offset))
            footer.bigEndian(UInt64(index.count))
            footer.bigEndian(UInt64(bitPattern: minTime))
            footer.bigEndian(UInt64(bitPattern: maxTime))
            footer.bigEndian(CRC32C.checksum(index))
            writer.buffer += index + footer.bytes + Block.endMagic
            try writer.flush()
            try file.sync()
            try FileSystem.rename(temporary, to: path)
            DurableFile.syncDirectory(DurableFile.parent(of: path))
        } catch {
            abandon()
            throw .unreadable(path, "writing it failed: \(error.description)")
        }
        return try Block(path: path)
    }

    /// Removes what was written (the block could not be finished).
    func abandon() { FileSystem.removeIfPresent(temporary) }

    private func index() -> [UInt8] {
        var symbolSet = Set<String>()
        for (labels, _) in series {
            for label in labels.labels {
                symbolSet.insert(label.name)
                symbolSet.insert(label.value)
            }
        }
        let symbols = symbolSet.sorted()
        var numbers: [String: Int] = [:]
        for (number, symbol) in symbols.enumerated() { numbers[symbol] = number }
        var writer = ByteWriter()
        writer.uvarint(level)
        writer.uvarint(symbols.count)
        for symbol in symbols { writer.string(symbol) }
        writer.uvarint(series.count)
        var postings: [String: [String: [Int]]] = [:]
        for (ordinal, (labels, chunks)) in series.enumerated() {
            writer.uvarint(labels.labels.count)
            for label in labels.labels {
                writer.uvarint(numbers[label.name] ?? 0)
                writer.uvarint(numbers[label.value] ?? 0)
                postings[label.name, default: [:]][label.value, default: []].append(ordinal)
            }
            writer.uvarint(chunks.count)
            var previous = minTime
            for chunk in chunks {
                writer.varint(chunk.first &- previous)
                writer.uvarint(UInt64(bitPattern: chunk.last &- chunk.first))
                writer.uvarint(chunk.length)
                writer.uvarint(chunk.samples)
                writer.bigEndian(chunk.checksum)
                previous = chunk.last
            }
        }
        let pairs = postings.flatMap { name, values in values.map { (name, $0.key, $0.value) } }
            .sorted { ($0.0, $0.1) < ($1.0, $1.1) }
        writer.uvarint(pairs.count)
        for (name, value, ordinals) in pairs {
            writer.uvarint(numbers[name] ?? 0)
            writer.uvarint(numbers[value] ?? 0)
            writer.uvarint(ordinals.count)
            var previous = 0
            for ordinal in ordinals {
                writer.uvarint(ordinal - previous)
                previous = ordinal
            }
        }
        return writer.bytes
    }
}
