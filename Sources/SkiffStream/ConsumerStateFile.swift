import Foundation
import SkiffPOSIX
import Synchronization

/// What a consumer has delivered, kept so that a restart neither delivers again what was acknowledged (a stream
/// with `limits` retention keeps acknowledged messages) nor forgets how often a message was tried (`max_deliver`).
struct ConsumerSnapshot: Codable, Equatable {
    /// The highest stream sequence delivered for the first time.
    var cursor: UInt64
    /// Consumer sequence of the last delivery.
    var deliveries: UInt64
    var redelivered: Int
    /// Deliveries waiting for their ack: stream sequence, how often it was delivered, and flags (1: NAK'd, 2:
    /// started).
    var pending: [[UInt64]]
    /// The version of the consumer's state it carries: the journal's records up to it are in it. Absent in files
    /// written before the journal (they had none).
    var version: UInt64?

    /// The JSON `JSONEncoder` writes for it, by hand: with a thousand deliveries waiting the encoder was slow.
    func json() -> [UInt8] {
        var out = Array(#"{"cursor":\#(cursor),"deliveries":\#(deliveries),"#.utf8)
        if let version { out += Array(#""version":\#(version),"#.utf8) }
        out += Array(#""redelivered":\#(redelivered),"pending":["#.utf8)
        out.reserveCapacity(out.count + pending.count * 24 + 2)
        for (index, entry) in pending.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "["))
            for (position, value) in entry.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                out += Array(String(value).utf8)
            }
            out.append(UInt8(ascii: "]"))
        }
        out += Array("]}".utf8)
        return out
    }
}

/// One change of a consumer's state, as its journal keeps it. Deadlines are not kept: a restart starts every
/// wait again.
enum ConsumerEvent: Equatable, Sendable {
    /// A delivery of `sequence` (its `deliveries`-th): it waits for its ack, flags cleared; the cursor moves up to it.
    case delivered(UInt64, deliveries: UInt64)
    /// The flags of a waiting delivery (1: NAK'd, 2: started).
    case flagged(UInt64, flags: UInt64)
    /// Acknowledged, terminated, withdrawn, given up or gone: it no longer waits.
    case removed(UInt64)

    /// Kind, version, sequence and value (little-endian), then the CRC-32C of those 25 bytes.
    static let recordSize = 29

    func record(version: UInt64) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(Self.recordSize)
        let (kind, sequence, value): (UInt8, UInt64, UInt64) =
            switch self {
            case .delivered(let sequence, let deliveries): (1, sequence, deliveries)
            case .flagged(let sequence, let flags): (2, sequence, flags)
            case .removed(let sequence): (3, sequence, 0)
            }
        bytes.append(kind)
        for word in [version, sequence, value] { withUnsafeBytes(of: word.littleEndian) { bytes += $0 } }
        withUnsafeBytes(of: CRC32C.checksum(bytes).littleEndian) { bytes += $0 }
        return bytes
    }

    /// The event and its version in a record; nil for a record that is torn or damaged.
    static func read(_ record: ArraySlice<UInt8>) -> (version: UInt64, event: ConsumerEvent)? {
        guard record.count == recordSize else { return nil }
        let base = record.startIndex
        func word(_ offset: Int) -> UInt64 {
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(record[base + offset + $1]) << (8 * UInt64($1)) }
        }
        let stored = (0..<4).reduce(UInt32(0)) { $0 | UInt32(record[base + 25 + $1]) << (8 * UInt32($1)) }
        guard CRC32C.checksum(record[base..<base + 25]) == stored else { return nil }
        let (version, sequence, value) = (word(1), word(9), word(17))
        switch record[base] {
        case 1: return (version, .delivered(sequence, deliveries: value))
        case 2: return (version, .flagged(sequence, flags: value))
        case 3: return (version, .removed(sequence))
        default: return nil
        }
    }
}

/// Keeps a consumer's state durable as a snapshot (`PATH`, JSON) and a journal of the changes since
/// (`PATH.journal`, fixed-size checksummed records). A change costs one small append, written with the others of
/// the moment in one `write` and one `fdatasync` on a thread of the file's own (group commit); the snapshot is
/// rewritten only when the journal has grown past ``compactionBytes`` (1 MiB). (Before the journal, every change rewrote the
/// whole snapshot — with a thousand deliveries waiting, the queue's worker waited milliseconds per dispatch.)
///
/// A caller that must not answer before its change is on disk waits for the write that carries it. After
/// ``retire()`` nothing is written any more, so a deleted consumer's files stay deleted.
final class ConsumerStateFile: Sendable {
    let path: String
    var journalPath: String { path + ".journal" }
    /// The journal's size at which a write rewrites the snapshot and empties the journal.
    let compactionBytes: Int
    static let defaultCompactionBytes = 1 << 20
    /// The consumer's whole state now and the version of it; nil once the consumer is gone. Read for compaction.
    private let source = Mutex<(@Sendable () -> (version: UInt64, bytes: [UInt8])?)?>(nil)
    private let state = Mutex(State())
    /// Writes and syncs the buffered records, off the cooperative pool.
    private let writer = DrainThread(name: "skiff-consumer")
    /// The open journal, used by one write at a time; nil before the first write and after `retire`.
    private let journal = Mutex<Journal>(.closed)

    private enum Journal {
        case closed
        case open(SegmentFile)
        case retired
    }

    private struct State {
        /// Records not written yet, in version order.
        var buffer: [UInt8] = []
        var bufferedVersion: UInt64 = 0
        var written: UInt64 = 0
        var waiters: [(version: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
    }

    init(path: String, compactionBytes: Int = defaultCompactionBytes) {
        self.path = path
        self.compactionBytes = compactionBytes
        writer.attach { [weak self] in self?.writeUntilCurrent() }
    }

    /// Where the whole state comes from when the snapshot is rewritten (set once its consumer exists).
    func attach(_ snapshot: @escaping @Sendable () -> (version: UInt64, bytes: [UInt8])?) {
        source.withLock { $0 = snapshot }
    }

    /// What was kept before: the snapshot (nil for a new consumer, or one that cannot be read) and the journal's
    /// events after it, in order. A torn or damaged record ends the journal there, and the file is cut back to it,
    /// so that the next records follow the last good one.
    func load() -> (snapshot: ConsumerSnapshot?, events: [(version: UInt64, event: ConsumerEvent)]) {
        let snapshot = FileManager.default.contents(atPath: path).flatMap {
            try? JSONDecoder().decode(ConsumerSnapshot.self, from: $0)
        }
        let after = snapshot?.version ?? 0
        guard FileManager.default.fileExists(atPath: journalPath) else { return (snapshot, []) }
        // The file is opened where it is kept: it is the journal's from now on.
        let events = journal.withLock { journal -> [(version: UInt64, event: ConsumerEvent)] in
            guard let file = try? SegmentFile(path: journalPath, create: false),
                let bytes = try? file.read(at: 0, count: file.size)
            else { return [] }
            var events: [(version: UInt64, event: ConsumerEvent)] = []
            var good = 0
            while good + ConsumerEvent.recordSize <= bytes.count,
                let (version, event) = ConsumerEvent.read(bytes[good..<good + ConsumerEvent.recordSize])
            {
                // Records the snapshot already carries: written before a compaction that a crash interrupted.
                if version > after { events.append((version, event)) }
                good += ConsumerEvent.recordSize
            }
            if good < bytes.count { try? file.truncate(to: good) }
            journal = .open(file)
            return events
        }
        return (snapshot, events)
    }

    /// Keeps `event`, the change that made the consumer's state `version`. Called in version order (under the
    /// consumer's lock); written soon, by ``flush()``.
    func record(_ event: ConsumerEvent, version: UInt64) {
        state.withLock { state in
            state.buffer += event.record(version: version)
            state.bufferedVersion = version
        }
    }

    /// Writes what was recorded, on the file's thread, unless a write already runs (it then takes it too).
    func flush() {
        guard state.withLock({ !$0.buffer.isEmpty }) else { return }
        do {
            try writer.signal()
        } catch {
            // No thread, no durability: nobody is kept waiting for it (a restart delivers these again); the next
            // change tries again.
            release(upTo: state.withLock { $0.bufferedVersion })
        }
    }

    /// Returns once a write has carried `version` (or the file is retired, or writing failed).
    func written(atLeast version: UInt64) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                guard state.written < version else { return true }
                state.waiters.append((version, continuation))
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// No more writes, from now on; the journal is removed, and the caller may remove the snapshot.
    func retire() {
        journal.withLock { $0 = .retired }
        try? FileManager.default.removeItem(atPath: journalPath)
        release(upTo: .max)
    }

    private func release(upTo version: UInt64) {
        let due = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.written = max(state.written, version)
            let due = state.waiters.filter { $0.version <= state.written }.map(\.continuation)
            state.waiters.removeAll { $0.version <= state.written }
            return due
        }
        for continuation in due { continuation.resume() }
    }

    private func writeUntilCurrent() {
        while true {
            let (bytes, version) = state.withLock { state -> ([UInt8], UInt64) in
                defer { state.buffer = [] }
                return (state.buffer, state.bufferedVersion)
            }
            guard !bytes.isEmpty else { return }
            // A failed write releases its waiters too: what they wait for is then not durable, and a restart
            // delivers it again, which a work queue's consumers must expect anyway.
            journal.withLock { journal in
                if case .closed = journal {
                    let exists = FileManager.default.fileExists(atPath: journalPath)
                    if !exists { try? DurableFile.makeDirectories(DurableFile.parent(of: journalPath)) }
                    if let file = try? SegmentFile(path: journalPath, create: !exists) { journal = .open(file) }
                }
                guard case .open(let file) = journal else { return }
                do {
                    try file.append(bytes)
                    try file.sync()
                } catch {
                    return
                }
                if file.size >= compactionBytes { compact(file) }
            }
            release(upTo: version)
        }
    }

    /// The whole state as a snapshot, then an empty journal. The snapshot is taken after everything it carries
    /// was recorded (both happen under the consumer's lock): records still buffered are at most older than it, and
    /// are skipped when the journal is read (by their versions), as are the old records left by a crash between
    /// the two steps.
    private func compact(_ file: SegmentFile) {
        guard let (_, bytes) = source.withLock({ $0 })?() else { return }
        do {
            try DurableFile.write(bytes, to: path)
            try file.truncate(to: 0)
        } catch {
            return
        }
    }
}
