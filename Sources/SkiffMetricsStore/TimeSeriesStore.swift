import SkiffPOSIX
import Synchronization

/// The metrics store: the head in memory, made durable by its write-ahead log, under one lock. (Blocks on disk,
/// retention and compaction come next; until then the head holds everything since the store was created.)
public final class TimeSeriesStore: Sendable {
    /// What opening found in the log.
    public struct Opening: Sendable, Equatable {
        public var records: Int
        public var segments: Int
        /// Bytes of an unfinished or damaged end of the log that were cut off (0 when it was whole).
        public var truncatedBytes: Int
        public var series: Int
        public var samples: Int
    }

    /// What became of a batch of samples.
    public struct Appended: Sendable, Equatable {
        public var stored = 0
        /// Not newer than their series' last sample.
        public var outOfOrder = 0
        /// Their series' last sample again (same time and value): ignored.
        public var duplicates = 0
        /// At their series' last time with another value.
        public var conflicting = 0
    }

    /// A series and its samples in the range asked for.
    public struct SeriesSamples: Sendable, Equatable {
        public var labels: Labels
        public var samples: [Sample]
    }

    private struct State: ~Copyable {
        var head = Head()
        let log: WriteAheadLog
        var refused = Appended()
    }

    public let directory: String
    public let opening: Opening
    private let state: Mutex<State>

    /// Opens the store in `directory` (created when missing) and replays its log.
    public init(directory: String) throws(SystemError) {
        self.directory = directory
        let log = try WriteAheadLog(directory: "\(directory)/wal")
        var head = Head()
        let replay = try log.replay { record in
            switch record {
            case .series(let id, let labels):
                head.restore(id: id, labels: labels)
            case .samples(let samples):
                for (id, sample) in samples { _ = head.append(sample, to: id) }
            }
        }
        opening = Opening(
            records: replay.records, segments: replay.segments, truncatedBytes: replay.truncatedBytes,
            series: head.series.count, samples: head.sampleCount)
        state = Mutex(State(head: head, log: log))
    }

    /// Stores a batch, logging it first in one write: new series, then the samples kept.
    @discardableResult
    public func append(_ batch: [(labels: Labels, sample: Sample)]) throws(SystemError) -> Appended {
        try state.withLock { (state: inout State) throws(SystemError) -> Appended in
            var records: [WALRecord] = []
            var kept: [(id: UInt64, sample: Sample)] = []
            var appended = Appended()
            for (labels, sample) in batch {
                let (id, created) = state.head.seriesID(for: labels)
                if created { records.append(.series(id: id, labels: labels)) }
                switch state.head.append(sample, to: id) {
                case .stored:
                    appended.stored += 1
                    kept.append((id, sample))
                case .outOfOrder: appended.outOfOrder += 1
                case .duplicate: appended.duplicates += 1
                case .conflicting: appended.conflicting += 1
                }
            }
            if !kept.isEmpty { records.append(.samples(kept)) }
            state.refused.outOfOrder += appended.outOfOrder
            state.refused.conflicting += appended.conflicting
            try state.log.log(records)
            return appended
        }
    }

    /// The series every matcher accepts, in label order, with their samples from `start` through `end`
    /// (milliseconds, inclusive).
    public func select(_ matchers: [LabelMatcher], from start: Int64, through end: Int64) -> [SeriesSamples] {
        state.withLock { state in
            state.head.select(matchers, from: start, through: end).map { SeriesSamples(labels: $0.0, samples: $0.1) }
        }
    }

    public var labelNames: [String] { state.withLock { $0.head.labelNames } }

    public func labelValues(_ name: String) -> [String] { state.withLock { $0.head.labelValues(name) } }

    /// Samples refused since the store opened: out of order, and at an existing time with another value.
    public var refused: Appended { state.withLock { $0.refused } }

    /// Makes everything appended so far durable (at shutdown).
    public func sync() throws(SystemError) {
        try state.withLock { (state: inout State) throws(SystemError) in try state.log.sync() }
    }
}
