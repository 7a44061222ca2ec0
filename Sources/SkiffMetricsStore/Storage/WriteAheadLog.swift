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

    /// Reads every record in order, handing each to `apply`; afterwards the log appends after the last good one.
    func replay(_ apply: (WALRecord) -> Void) throws(SystemError) -> Replay {
        var replay = Replay()
        let numbers = segmentNumbers()
        var damaged = false
        for number in numbers {
            let path = self.path(of: number)
            if damaged {
                replay.truncatedBytes += (try? SegmentFile(path: path, create: false).size) ?? 0
                try DurableFile.remove(path)
                continue
            }
            let file = try SegmentFile(path: path, create: false)
            let bytes = try file.read(at: 0, count: file.size)
            var offset = 0
            while offset < bytes.count {
                guard let (record, size) = Self.decode(bytes, at: offset) else {
                    damaged = true
                    replay.truncatedBytes += bytes.count - offset
                    try file.truncate(to: offset)
                    break
                }
                apply(record)
                replay.records += 1
                offset += size
            }
            replay.segments += 1
            segment = file
            segmentNumber = number
        }
        return replay
    }

    private func segmentNumbers() -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { $0.count == 8 ? Int($0) : nil }.sorted()
    }

    private func path(of number: Int) -> String {
        let digits = String(number)
        return "\(directory)/" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
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
        var payload: [UInt8] = []
        let kind: UInt8
        switch record {
        case .series(let id, let labels):
            kind = 1
            appendBigEndian(id, to: &payload)
            Varint.appendUnsigned(UInt64(labels.labels.count), to: &payload)
            for label in labels.labels {
                appendString(label.name, to: &payload)
                appendString(label.value, to: &payload)
            }
        case .samples(let samples):
            kind = 2
            Varint.appendUnsigned(UInt64(samples.count), to: &payload)
            if let first = samples.first {
                appendBigEndian(first.id, to: &payload)
                appendBigEndian(UInt64(bitPattern: first.sample.timestamp), to: &payload)
                for entry in samples {
                    Varint.appendSigned(Int64(bitPattern: entry.id &- first.id), to: &payload)
                    Varint.appendSigned(entry.sample.timestamp &- first.sample.timestamp, to: &payload)
                    appendBigEndian(entry.sample.value.bitPattern, to: &payload)
                }
            }
        }
        bytes.append(kind)
        appendBigEndian(UInt32(payload.count), to: &bytes)
        appendBigEndian(CRC32C.checksum(payload), to: &bytes)
        bytes += payload
    }

    /// The record at `offset` and its size; nil when it is incomplete, damaged or of an unknown kind.
    static func decode(_ bytes: [UInt8], at offset: Int) -> (WALRecord, Int)? {
        guard bytes.count - offset >= 9 else { return nil }
        let kind = bytes[offset]
        let length = Int(readBigEndian(bytes, at: offset + 1, as: UInt32.self))
        let checksum = readBigEndian(bytes, at: offset + 5, as: UInt32.self)
        guard bytes.count - offset - 9 >= length else { return nil }
        let payload = Array(bytes[(offset + 9)..<(offset + 9 + length)])
        guard CRC32C.checksum(payload) == checksum else { return nil }
        var reader = PayloadReader(bytes: payload)
        let record: WALRecord?
        switch kind {
        case 1:
            record = reader.series()
        case 2:
            record = reader.samples()
        default:
            record = nil
        }
        guard let record, reader.isAtEnd else { return nil }
        return (record, 9 + length)
    }

    private static func appendString(_ text: String, to bytes: inout [UInt8]) {
        Varint.appendUnsigned(UInt64(text.utf8.count), to: &bytes)
        bytes += text.utf8
    }

    private static func appendBigEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes += $0 }
    }

    static func readBigEndian<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int, as: T.Type) -> T {
        var value: T = 0
        for index in 0..<MemoryLayout<T>.size { value = value << 8 | T(bytes[offset + index]) }
        return value
    }

    /// Reads a payload the checksum vouched for; still checks every length, so that a bug cannot crash a start.
    private struct PayloadReader {
        let bytes: [UInt8]
        var offset = 0

        var isAtEnd: Bool { offset == bytes.count }

        mutating func series() -> WALRecord? {
            guard let id = fixed(UInt64.self), let count = uvarint(), count <= bytes.count else { return nil }
            var pairs: [(String, String)] = []
            for _ in 0..<count {
                guard let name = string(), let value = string() else { return nil }
                pairs.append((name, value))
            }
            return .series(id: id, labels: Labels(pairs))
        }

        mutating func samples() -> WALRecord? {
            guard let count = uvarint(), count <= bytes.count else { return nil }
            guard count > 0 else { return .samples([]) }
            guard let firstID = fixed(UInt64.self), let firstTime = fixed(UInt64.self) else { return nil }
            var samples: [(id: UInt64, sample: Sample)] = []
            for _ in 0..<count {
                guard let idDelta = varint(), let timeDelta = varint(), let bits = fixed(UInt64.self) else {
                    return nil
                }
                let sample = Sample(
                    timestamp: Int64(bitPattern: firstTime) &+ timeDelta, value: Double(bitPattern: bits))
                samples.append((firstID &+ UInt64(bitPattern: idDelta), sample))
            }
            return .samples(samples)
        }

        private mutating func fixed<T: FixedWidthInteger>(_ type: T.Type) -> T? {
            guard bytes.count - offset >= MemoryLayout<T>.size else { return nil }
            defer { offset += MemoryLayout<T>.size }
            return WriteAheadLog.readBigEndian(bytes, at: offset, as: T.self)
        }

        private mutating func nextByte() throws(Truncated) -> UInt8 {
            guard offset < bytes.count else { throw Truncated() }
            defer { offset += 1 }
            return bytes[offset]
        }

        private mutating func uvarint() -> UInt64? {
            (try? Varint.readUnsigned { () throws(Truncated) -> UInt8 in try nextByte() }) ?? nil
        }

        private mutating func varint() -> Int64? {
            (try? Varint.readSigned { () throws(Truncated) -> UInt8 in try nextByte() }) ?? nil
        }

        private mutating func string() -> String? {
            guard let length = uvarint(), length <= bytes.count - offset else { return nil }
            defer { offset += Int(length) }
            return String(validating: bytes[offset..<(offset + Int(length))], as: UTF8.self)
        }

        private struct Truncated: Error {}
    }
}
