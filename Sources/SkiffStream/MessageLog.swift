import Foundation
import SkiffPOSIX
import Synchronization

/// One stream's messages on disk: an append-only log in segment files, each record checksummed. An append or a
/// deletion is acknowledged only once its record is on disk, and everything that arrives while one sync runs
/// shares the next (group commit: many publishes, one `fdatasync`). Recovery after a crash or a power loss reads
/// every segment and cuts off a record the machine did not finish writing; no acknowledged record is lost. A full
/// disk fails the appends it affects and acknowledges none of them. Segments whose messages have all been deleted
/// are removed, oldest first.
///
/// Knows nothing of sockets, subjects' meaning or functions: the queue uses it in-process, the broker exposes it.
public final class MessageLog: Sendable {
    public let directory: String
    /// What recovery found at open.
    public let recovery: Recovery
    private let segmentBytes: Int
    private let state: Mutex<State>
    private let committer = DrainThread(name: "skiff-commit")

    public struct Recovery: Sendable, Equatable {
        /// Records read back (messages and deletions).
        public var records: Int
        /// Bytes of an unfinished record cut off the end of the last segment (0 when the log was whole).
        public var truncatedBytes: Int
    }

    public struct Summary: Sendable, Equatable {
        public var messages: Int
        /// Payload and header bytes of the messages kept.
        public var bytes: Int
        public var firstSequence: UInt64
        public var lastSequence: UInt64
    }

    struct Location {
        let segment: Int
        let offset: Int
        let size: Int
        let bytes: Int
    }

    // Internal, not private, only so that recovery (MessageLog+Recovery.swift) can rebuild them.

    /// A segment file and how many of its messages are still live. Its file is appended to, synced and cut only by
    /// the committer; read (pread) by anyone under the log's lock.
    final class Segment: @unchecked Sendable {
        let number: Int
        let file: SegmentFile
        var live = 0

        init(number: Int, file: SegmentFile) {
            self.number = number
            self.file = file
        }
    }

    enum Pending {
        case append(StoredMessage, @Sendable (Result<UInt64, MessageLogError>) -> Void)
        case delete(UInt64, @Sendable (Result<Bool, MessageLogError>) -> Void)
    }

    struct State {
        var segments: [Segment]
        var index = SequenceIndex<Location>()
        var nextSequence: UInt64
        var lastSequence: UInt64
        var bytes = 0
        var pending: [Pending] = []
        var syncs = 0
    }

    // MARK: Opening

    /// Opens the log in `directory` (created when missing) and recovers it.
    public init(directory: String, segmentBytes: Int = 8 << 20) throws(MessageLogError) {
        self.directory = directory
        self.segmentBytes = segmentBytes
        do {
            try DurableFile.makeDirectories(directory)
        } catch {
            throw .system("cannot create \(directory): \(error)")
        }
        let (state, recovery) = try Self.recover(directory)
        self.state = Mutex(state)
        self.recovery = recovery
        committer.attach { [weak self] in self?.commitUntilIdle() }
    }

    // MARK: Reading

    public var summary: Summary {
        state.withLock { state in
            Summary(
                messages: state.index.count, bytes: state.bytes,
                firstSequence: state.index.first ?? state.nextSequence,
                lastSequence: state.lastSequence)
        }
    }

    /// Every live sequence, in order.
    public var sequences: [UInt64] { state.withLock { $0.index.sequences } }

    /// The lowest live sequence, nil when the log holds none.
    public var firstSequence: UInt64? { state.withLock { $0.index.first } }

    /// The lowest live sequence above `sequence`, nil when there is none: a consumer's next message without
    /// sorting the whole log.
    public func sequence(after sequence: UInt64) -> UInt64? { state.withLock { $0.index.sequence(after: sequence) } }

    /// Live sequences above `sequence`: asked at every delivery (its `pending`), so counted from the nearer end.
    public func count(after sequence: UInt64) -> Int { state.withLock { $0.index.count(after: sequence) } }

    /// `fdatasync`s so far (group commit makes this fewer than the appends).
    public var syncCount: Int { state.withLock { $0.syncs } }

    public var segmentCount: Int { state.withLock { $0.segments.count } }

    /// Whether `sequence` is stored (not deleted), without reading it.
    public func contains(_ sequence: UInt64) -> Bool { state.withLock { $0.index[sequence] != nil } }

    /// The message with `sequence`, nil when there is none (never stored, or deleted).
    public func message(_ sequence: UInt64) throws(MessageLogError) -> StoredMessage? {
        let found = state.withLock { state -> (Location, Segment)? in
            guard let location = state.index[sequence],
                let segment = state.segments.first(where: { $0.number == location.segment })
            else { return nil }
            return (location, segment)
        }
        guard let (location, segment) = found else { return nil }
        do {
            let bytes = try segment.file.read(at: location.offset, count: location.size)
            guard case .message(let message) = try LogRecord.decode(bytes, at: 0).0 else { return nil }
            return message
        } catch {
            throw .corrupt("\(segment.file.path) at byte \(location.offset): \(error)")
        }
    }

    // MARK: Writing

    /// Stores a message and returns its sequence once it is on disk.
    public func append(subject: String, headers: [UInt8] = [], payload: [UInt8], time: Int64)
        async throws(MessageLogError)
        -> UInt64
    {
        let result = await withCheckedContinuation { continuation in
            append(subject: subject, headers: headers, payload: payload, time: time) {
                continuation.resume(returning: $0)
            }
        }
        return try result.get()
    }

    /// Queues a message now, in the order of the calls (a publisher's order), and tells `completion` its sequence
    /// once it is on disk (on the committer's thread), or why it was not stored.
    public func append(
        subject: String, headers: [UInt8] = [], payload: [UInt8], time: Int64,
        completion: @escaping @Sendable (Result<UInt64, MessageLogError>) -> Void
    ) {
        enqueue(.append(StoredMessage(subject: subject, headers: headers, payload: payload, time: time), completion))
    }

    /// Deletes a message (a work queue's ack) once its deletion is on disk; false when there was no such message.
    public func delete(_ sequence: UInt64) async throws(MessageLogError) -> Bool {
        guard state.withLock({ $0.index[sequence] != nil }) else { return false }
        let result = await withCheckedContinuation { continuation in
            enqueue(.delete(sequence) { continuation.resume(returning: $0) })
        }
        return try result.get()
    }

    private func enqueue(_ pending: Pending) {
        state.withLock { $0.pending.append(pending) }
        do {
            // Writes and syncs block: they run on a thread of their own, never on the cooperative pool.
            try committer.signal()
        } catch {
            fail(everythingPendingWith: .system("cannot start the committer: \(error)"))
        }
    }

    /// Takes what is pending, writes it in one go, syncs once, acknowledges; again until nothing is pending.
    private func commitUntilIdle() {
        while let batch = takeBatch() {
            commit(batch)
        }
    }

    private struct Batch {
        var pending: [Pending]
        var bytes: [UInt8] = []
        /// For each pending entry: the sequence assigned (appends) and where its record lies in `bytes`.
        var records: [(sequence: UInt64, offset: Int, size: Int, bytes: Int)] = []
        var firstSequence: UInt64
    }

    private func takeBatch() -> Batch? {
        state.withLock { state -> Batch? in
            guard !state.pending.isEmpty else { return nil }
            var batch = Batch(pending: state.pending, firstSequence: state.nextSequence)
            state.pending = []
            for entry in batch.pending {
                let record: [UInt8]
                let sequence: UInt64
                var payloadBytes = 0
                switch entry {
                case .append(var message, _):
                    sequence = state.nextSequence
                    state.nextSequence += 1
                    message.sequence = sequence
                    payloadBytes = message.headers.count + message.payload.count
                    record = LogRecord.encode(message)
                case .delete(let deleted, _):
                    sequence = deleted
                    record = LogRecord.encodeDeletion(of: deleted)
                }
                batch.records.append((sequence, batch.bytes.count, record.count, payloadBytes))
                batch.bytes += record
            }
            return batch
        }
    }

    private func commit(_ batch: Batch) {
        var target: (segment: Segment, start: Int)?
        do {
            let segment = try segmentFor(batch.bytes.count)
            target = (segment, segment.file.size)
            try segment.file.append(batch.bytes)
            try segment.file.sync()
        } catch {
            // Nothing of the batch is acknowledged, so nothing of it may come back at the next start: bytes written
            // but not synced (a full disk can fail the sync rather than the write) are cut off again.
            if let (segment, start) = target, segment.file.size > start {
                try? segment.file.truncate(to: start)
            }
            // Its sequences are given out again.
            state.withLock { $0.nextSequence = batch.firstSequence }
            for entry in batch.pending { Self.resume(entry, with: .failure(.system("\(error)"))) }
            return
        }
        guard let (segment, start) = target else { return }
        let results = state.withLock { state -> [Result<UInt64, MessageLogError>] in
            state.syncs += 1
            var results: [Result<UInt64, MessageLogError>] = []
            for (entry, record) in zip(batch.pending, batch.records) {
                switch entry {
                case .append:
                    state.index[record.sequence] = Location(
                        segment: segment.number, offset: start + record.offset, size: record.size, bytes: record.bytes)
                    segment.live += 1
                    state.bytes += record.bytes
                    state.lastSequence = max(state.lastSequence, record.sequence)
                    results.append(.success(record.sequence))
                case .delete(let sequence, _):
                    if let location = state.index.removeValue(forKey: sequence) {
                        state.bytes -= location.bytes
                        state.segments.first { $0.number == location.segment }?.live -= 1
                        results.append(.success(1))
                    } else {
                        results.append(.success(0))
                    }
                }
            }
            return results
        }
        // Before the acknowledgements: a deletion's space is given back by the time its caller hears of it.
        removeDeadSegments()
        for (entry, result) in zip(batch.pending, results) { Self.resume(entry, with: result) }
    }

    /// The segment a batch of `count` bytes goes to: the last, or a new one when the last is full.
    private func segmentFor(_ count: Int) throws(SystemError) -> Segment {
        let (last, next) = state.withLock { ($0.segments[$0.segments.count - 1], $0.nextSequence) }
        guard last.file.size > 0, last.file.size + count > segmentBytes else { return last }
        let number = last.number + 1
        let file = try SegmentFile(path: "\(directory)/\(Self.segmentName(number, next))", create: true)
        let segment = Segment(number: number, file: file)
        state.withLock { $0.segments.append(segment) }
        return segment
    }

    /// Oldest first, segments other than the last whose messages are all deleted: their deletions only concern
    /// themselves and older segments, already gone.
    private func removeDeadSegments() {
        let dead = state.withLock { state -> [Segment] in
            var dead: [Segment] = []
            while state.segments.count > 1, state.segments[0].live == 0 {
                dead.append(state.segments.removeFirst())
            }
            return dead
        }
        for segment in dead { try? DurableFile.remove(segment.file.path) }
    }

    /// For a deletion the value is 1 when something was deleted, 0 when it was already gone.
    private static func resume(_ entry: Pending, with result: Result<UInt64, MessageLogError>) {
        switch entry {
        case .append(_, let completion): completion(result)
        case .delete(_, let completion): completion(result.map { $0 == 1 })
        }
    }

    private func fail(everythingPendingWith error: MessageLogError) {
        let pending = state.withLock { state -> [Pending] in
            defer { state.pending = [] }
            return state.pending
        }
        for entry in pending { Self.resume(entry, with: .failure(error)) }
    }
}

public enum MessageLogError: Error, Equatable, CustomStringConvertible {
    /// The disk or the system refused (a full disk, no descriptors); what was refused was not acknowledged.
    case system(String)
    /// A record in the middle of the log is unreadable.
    case corrupt(String)

    public var description: String {
        switch self {
        case .system(let message): "the message log cannot be written or read: \(message)"
        case .corrupt(let message): "the message log is damaged: \(message)"
        }
    }
}
