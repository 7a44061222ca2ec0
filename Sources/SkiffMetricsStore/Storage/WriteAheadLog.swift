import Foundation
import SkiffPOSIX

/// What the head learns, in the order it learns it: new series (before any sample of theirs) and batches of
/// samples. Replayed at start, it rebuilds the head as it was.
enum WALRecord: Equatable {
    case series(id: UInt64, labels: Labels)
    case samples([(id: UInt64, sample: Sample)])

    static func == (a: WALRecord, b: WALRecord) -> Bool {
        switch (a, b) {
        case (.series(let x, let l), .series(let y, let m)): return x == y && l == m
        case (.samples(let s), .samples(let t)):
            return s.count == t.count && zip(s, t).allSatisfy { $0.id == $1.id && $0.sample.isIdentical(to: $1.sample) }
        default: return false
        }
    }
}

/// The head's write-ahead log: numbered segment files (`00000001`, …) of checksummed records. Written at every
/// ingest without a sync of its own (like Prometheus's: a power cut may lose the last seconds, never the log);
/// a segment is synced when the next one begins and when the store closes. At start every segment is read back; a
/// record the machine did not finish writing ends the log there: the file is cut back to it, later segments are
/// removed, and what was cut is reported, never a crash.
///
/// When the head is cut into a block, what it still holds is written as a checkpoint that replaces the segments
/// before it (Prometheus folds its segments the same way), so the log never holds more than the head.
///
/// A record: kind (1 byte: 1 series, 2 samples) · payload length (4 bytes, big-endian) · CRC-32C of the payload
/// (4 bytes, big-endian) · payload.
final class WriteAheadLog {
    struct Replay: Equatable {
        var records = 0
        var segments = 0
        /// Bytes cut off: the unfinished or damaged end, and any segments after it.
        var truncatedBytes = 0
    }

    let directory: String
    private let segmentBytes: Int
    private var segment: SegmentFile?
    private var segmentNumber = 0

    init(directory: String, segmentBytes: Int = 16 << 20) throws(SystemError) {
        self.directory = directory
        self.segmentBytes = segmentBytes
        try DurableFile.makeDirectories(directory)
    }

    // MARK: Reading back

    /// Reads every record in order, the newest checkpoint's first, handing each to `apply`; afterwards the log
    /// appends after the last good one.
    func replay(_ apply: (WALRecord) -> Void) throws(SystemError) -> Replay {
        var replay = Replay()
        let checkpoints = checkpointNumbers()
        var covered = 0
        if let newest = checkpoints.last {
            // Written whole and synced before it was named: damage here is the disk's. What can be read is kept.
            let bytes = try Self.readAll(checkpointPath(of: newest))
            let (records, good) = Self.decodeAll(bytes, apply)
            replay.records += records
            replay.truncatedBytes += bytes.count - good
            covered = newest
            segmentNumber = newest
        }
        // A crash between a checkpoint and the removal of what it replaced leaves those files behind.
        for number in checkpoints.dropLast() { try DurableFile.remove(checkpointPath(of: number)) }
        var damaged = false
        for number in segmentNumbers() {
            let path = self.path(of: number)
            if number <= covered || damaged {
                if damaged { replay.truncatedBytes += (try? SegmentFile(path: path, create: false).size) ?? 0 }
                try DurableFile.remove(path)
                continue
            }
            let file = try SegmentFile(path: path, create: false)
            let bytes = try file.read(at: 0, count: file.size)
            let (records, good) = Self.decodeAll(bytes, apply)
            replay.records += records
            if good < bytes.count {
                damaged = true
                replay.truncatedBytes += bytes.count - good
                try file.truncate(to: good)
            }
            replay.segments += 1
            segment = file
            segmentNumber = number
        }
        return replay
    }

    /// Applies the records from the start of `bytes` up to the first that is incomplete or damaged; answers how
    /// many there were and the bytes they took.
    private static func decodeAll(_ bytes: [UInt8], _ apply: (WALRecord) -> Void) -> (records: Int, bytes: Int) {
        var offset = 0
        var records = 0
        while offset < bytes.count, let (record, size) = decode(bytes, at: offset) {
            apply(record)
            records += 1
            offset += size
        }
        return (records, offset)
    }

    private static func readAll(_ path: String) throws(SystemError) -> [UInt8] {
        let file = try SegmentFile(path: path, create: false)
        return try file.read(at: 0, count: file.size)
    }

    private func segmentNumbers() -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { $0.count == 8 ? Int($0) : nil }.sorted()
    }

    private func checkpointNumbers() -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let prefix = "checkpoint."
        return names.compactMap { name in
            name.hasPrefix(prefix) && name.count == prefix.count + 8 ? Int(name.dropFirst(prefix.count)) : nil
        }.sorted()
    }

    private func path(of number: Int) -> String { "\(directory)/" + Self.padded(number) }

    private func checkpointPath(of number: Int) -> String { "\(directory)/checkpoint." + Self.padded(number) }

    private static func padded(_ number: Int) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    // MARK: Checkpoints

    /// Replaces everything logged so far with `records` (what the head still holds after it was cut into a block):
    /// they are written to `checkpoint.N` (N the last segment), synced and named in one step, then the segments
    /// and older checkpoints they replace are removed. A crash at any point leaves either the old log or the
    /// checkpoint with the segments after it.
    func checkpoint(_ records: [WALRecord]) throws(SystemError) {
        try segment?.sync()
        let covered = segmentNumber
        var bytes: [UInt8] = []
        for record in records { Self.encode(record, into: &bytes) }
        try DurableFile.write(bytes, to: checkpointPath(of: covered))
        segment = nil
        for number in segmentNumbers() where number <= covered { try DurableFile.remove(path(of: number)) }
        for number in checkpointNumbers() where number < covered { try DurableFile.remove(checkpointPath(of: number)) }
    }

    /// Bytes the log takes on disk (its segments and checkpoint), for retention by size.
    var diskBytes: Int {
        var total = 0
        for path in segmentNumbers().map(path(of:)) + checkpointNumbers().map(checkpointPath(of:)) {
            total += (try? SegmentFile(path: path, create: false).size) ?? 0
        }
        return total
    }

    // MARK: Writing

    /// Appends the records in one write, beginning a new segment first when the current one is full.
    func log(_ records: [WALRecord]) throws(SystemError) {
        guard !records.isEmpty else { return }
        var bytes: [UInt8] = []
        for record in records { Self.encode(record, into: &bytes) }
        if segment == nil || (segment?.size ?? 0) + bytes.count > segmentBytes && (segment?.size ?? 0) > 0 {
            try segment?.sync()
            segmentNumber += 1
            segment = try SegmentFile(path: path(of: segmentNumber), create: true)
        }
        try segment?.append(bytes)
    }

    /// Makes everything logged so far durable.
    func sync() throws(SystemError) { try segment?.sync() }

    /// Segment files now (for tests and the store's size accounting).
    var segmentPaths: [String] { segmentNumbers().map(path(of:)) }

    // MARK: Encoding

    static func encode(_ record: WALRecord, into bytes: inout [UInt8]) {
        var payload = ByteWriter()
        let kind: UInt8
        switch record {
        case .series(let id, let labels):
            kind = 1
            payload.bigEndian(id)
            payload.uvarint(labels.labels.count)
            for label in labels.labels {
                payload.string(label.name)
                payload.string(label.value)
            }
        case .samples(let samples):
            kind = 2
            payload.uvarint(samples.count)
            if let first = samples.first {
                payload.bigEndian(first.id)
                payload.bigEndian(UInt64(bitPattern: first.sample.timestamp))
                for entry in samples {
                    payload.varint(Int64(bitPattern: entry.id &- first.id))
                    payload.varint(entry.sample.timestamp &- first.sample.timestamp)
                    payload.bigEndian(entry.sample.value.bitPattern)
                }
            }
        }
        var header = ByteWriter()
        header.bigEndian(kind)
        header.bigEndian(UInt32(payload.bytes.count))
        header.bigEndian(CRC32C.checksum(payload.bytes))
        bytes += header.bytes
        bytes += payload.bytes
    }

    /// The record at `offset` and its size; nil when it is incomplete, damaged or of an unknown kind.
    static func decode(_ bytes: [UInt8], at offset: Int) -> (WALRecord, Int)? {
        guard bytes.count - offset >= 9 else { return nil }
        let kind = bytes[offset]
        let length = Int(ByteReader.bigEndian(bytes, at: offset + 1, as: UInt32.self))
        let checksum = ByteReader.bigEndian(bytes, at: offset + 5, as: UInt32.self)
        guard bytes.count - offset - 9 >= length else { return nil }
        let payload = Array(bytes[(offset + 9)..<(offset + 9 + length)])
        guard CRC32C.checksum(payload) == checksum else { return nil }
        var reader = ByteReader(payload)
        let record: WALRecord?
        switch kind {
        case 1:
            record = series(&reader)
        case 2:
            record = samples(&reader)
        default:
            record = nil
        }
        guard let record, reader.isAtEnd else { return nil }
        return (record, 9 + length)
    }

    private static func series(_ reader: inout ByteReader) -> WALRecord? {
        guard let id = reader.bigEndian(UInt64.self), let count = reader.count() else { return nil }
        var pairs: [(String, String)] = []
        for _ in 0..<count {
            guard let name = reader.string(), let value = reader.string() else { return nil }
            pairs.append((name, value))
        }
        return .series(id: id, labels: Labels(pairs))
    }

    private static func samples(_ reader: inout ByteReader) -> WALRecord? {
        guard let count = reader.count() else { return nil }
        guard count > 0 else { return .samples([]) }
        guard let firstID = reader.bigEndian(UInt64.self), let firstTime = reader.bigEndian(UInt64.self) else {
            return nil
        }
        var samples: [(id: UInt64, sample: Sample)] = []
        for _ in 0..<count {
            guard let idDelta = reader.varint(), let timeDelta = reader.varint(),
                let bits = reader.bigEndian(UInt64.self)
            else { return nil }
            let sample = Sample(timestamp: Int64(bitPattern: firstTime) &+ timeDelta, value: Double(bitPattern: bits))
            samples.append((firstID &+ UInt64(bitPattern: idDelta), sample))
        }
        return .samples(samples)
    }
}
