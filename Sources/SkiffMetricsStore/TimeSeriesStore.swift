import Foundation
import SkiffPOSIX
import Synchronization

/// The metrics store: the head in memory, made durable by its write-ahead log, and immutable blocks on disk,
/// under one lock. ``maintain(now:)`` (every minute, from the daemon's service) cuts the head's oldest two hours
/// into a block once it spans three, merges blocks into longer ones, and deletes blocks past the retention.
///
/// Layout of `directory`: `wal/` (segments and a checkpoint) and `blocks/` (one file per block).
public final class TimeSeriesStore: Sendable {
    /// How long and how much the store keeps; whole blocks are deleted, oldest first, when either is exceeded.
    public struct Retention: Sendable, Equatable {
        /// Milliseconds of samples kept, counted back from the newest sample.
        public var time: Int64
        /// Bytes on disk (blocks and the log) kept at most; nil: no limit.
        public var bytes: Int?

        public init(time: Int64, bytes: Int? = nil) {
            self.time = time
            self.bytes = bytes
        }

        /// Prometheus's default: fifteen days, no size limit.
        public static let standard = Retention(time: 15 * 86_400_000)

        /// A duration as Prometheus's flags take it (`15d`, `12h`, `1w`), in milliseconds.
        public static func duration(_ text: String) -> Int64? { Lexer.duration(text) }

        /// A size as Prometheus's `retention.size` takes it: a number and B, KB, MB, GB or TB (powers of 1024;
        /// KiB, MiB, GiB and TiB mean the same), or `0` for no limit.
        public static func bytes(_ text: String) -> Int? {
            if text == "0" { return 0 }
            let units: [(String, Int)] = [
                ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40), ("KB", 1 << 10),
                ("MB", 1 << 20), ("GB", 1 << 30), ("TB", 1 << 40), ("B", 1),
            ]
            for (unit, scale) in units where text.hasSuffix(unit) {
                guard let number = Int(text.dropLast(unit.count)), number >= 0 else { return nil }
                let (bytes, overflow) = number.multipliedReportingOverflow(by: scale)
                return overflow ? nil : bytes
            }
            return nil
        }
    }

    /// What opening found.
    public struct Opening: Sendable, Equatable {
        public var records: Int
        public var segments: Int
        /// Bytes of an unfinished or damaged end of the log that were cut off (0 when it was whole).
        public var truncatedBytes: Int
        public var series: Int
        public var samples: Int
        public var blocks: Int
        /// Blocks that could not be read, renamed to `….damaged` and left out, with why.
        public var damagedBlocks: [String]
    }

    /// What became of a batch of samples.
    public struct Appended: Sendable, Equatable {
        public var stored = 0
        /// Not newer than their series' last sample, or older than the head (already in a block).
        public var outOfOrder = 0
        /// Their series' last sample again (same time and value): ignored.
        public var duplicates = 0
        /// At their series' last time with another value.
        public var conflicting = 0
        /// Of a new series while the head already holds ``TimeSeriesStore/maximumSeries``.
        public var overSeriesLimit = 0
    }

    /// What one round of maintenance did.
    public struct Maintenance: Sendable, Equatable {
        /// Blocks cut from the head.
        public var cut = 0
        /// Blocks written by merging others.
        public var merged = 0
        /// Blocks deleted by retention.
        public var deleted = 0
    }

    /// A series and its samples in the range asked for.
    public struct SeriesSamples: Sendable, Equatable {
        public var labels: Labels
        public var samples: [Sample]
    }

    /// The store's size now (for its metrics and `/api/v1/status/tsdb`-like answers).
    public struct Statistics: Sendable, Equatable {
        public var headSeries: Int
        public var headSamples: Int
        public var blocks: Int
        public var blockSamples: Int
        public var blockBytes: Int
        public var logBytes: Int
        public var refused: Appended
    }

    private struct State: ~Copyable {
        var head = Head()
        let log: WriteAheadLog
        /// Oldest first; their ranges do not overlap, and all end at or before the head's first valid time.
        var blocks: [Block]
        var refused = Appended()
    }

    /// The range of a block cut from the head.
    public static let blockRange: Int64 = ChunkCutter.defaultRange
    /// Compaction levels after the first: three blocks of one make one of the next.
    static let compactionRanges: [Int64] = [blockRange * 3, blockRange * 9]

    public let directory: String
    public let retention: Retention
    public let opening: Opening
    private let state: Mutex<State>

    private var blockDirectory: String { "\(directory)/blocks" }

    /// Opens the store in `directory` (created when missing): reads its blocks' indexes and replays its log.
    /// Series the head may hold: a scrape target that invents new series every round (a function's code is not
    /// trusted) is refused new ones past it, instead of growing the daemon's memory without end.
    public let maximumSeries: Int

    public init(directory: String, retention: Retention = .standard, maximumSeries: Int = 100_000)
        throws(SystemError)
    {
        self.directory = directory
        self.retention = retention
        self.maximumSeries = maximumSeries
        let (blocks, damaged) = try Self.openBlocks(in: "\(directory)/blocks")
        let log = try WriteAheadLog(directory: "\(directory)/wal")
        var head = Head()
        head.minValidTime = blocks.last?.maxTime ?? .min
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
            series: head.series.count, samples: head.sampleCount, blocks: blocks.count, damagedBlocks: damaged)
        state = Mutex(State(head: head, log: log, blocks: blocks))
    }

    /// Every block in the folder, oldest first. Unfinished ones (`.tmp`) are removed; a block whose range lies
    /// within another's was the source of a merge that finished (the crash came before it was deleted) and is
    /// removed; one that cannot be read is renamed aside and reported.
    private static func openBlocks(in folder: String) throws(SystemError) -> ([Block], [String]) {
        try DurableFile.makeDirectories(folder)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
        var blocks: [Block] = []
        var damaged: [String] = []
        for name in names {
            let path = "\(folder)/\(name)"
            if name.hasSuffix(".block.tmp") {
                FileSystem.removeIfPresent(path)
                continue
            }
            guard name.hasSuffix(".block") else { continue }
            do {
                blocks.append(try Block(path: path))
            } catch {
                damaged.append(error.description)
                try? FileSystem.rename(path, to: path + ".damaged")
            }
        }
        blocks.sort { ($0.minTime, -$0.maxTime) < ($1.minTime, -$1.maxTime) }
        var kept: [Block] = []
        for block in blocks {
            if let previous = kept.last, block.minTime < previous.maxTime {
                // Sorted by start, longest first: an overlapping later block lies within the one kept.
                FileSystem.removeIfPresent(block.path)
                continue
            }
            kept.append(block)
        }
        return (kept, damaged)
    }

    // MARK: Writing

    /// Stores a batch, logging it first in one write: new series, then the samples kept.
    @discardableResult
    public func append(_ batch: [(labels: Labels, sample: Sample)]) throws(SystemError) -> Appended {
        try state.withLock { (state: inout State) throws(SystemError) -> Appended in
            var records: [WALRecord] = []
            var kept: [(id: UInt64, sample: Sample)] = []
            var appended = Appended()
            for (labels, sample) in batch {
                guard state.head.contains(labels) || state.head.series.count < maximumSeries else {
                    appended.overSeriesLimit += 1
                    continue
                }
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
            state.refused.overSeriesLimit += appended.overSeriesLimit
            try state.log.log(records)
            return appended
        }
    }

    /// Makes everything appended so far durable (at shutdown).
    public func sync() throws(SystemError) {
        try state.withLock { (state: inout State) throws(SystemError) in try state.log.sync() }
    }

    // MARK: Maintenance

    /// Cuts the head into blocks while it spans more than one and a half block ranges (the oldest range each
    /// time), merges complete runs of blocks into the next level, and applies the retention. `now` is the
    /// wall clock in milliseconds: retention counts back from the newest sample, or from now when that is later.
    @discardableResult
    public func maintain(now: Int64) throws(BlockError) -> Maintenance {
        try state.withLock { (state: inout State) throws(BlockError) -> Maintenance in
            var done = Maintenance()
            while let range = state.head.timeRange, range.upperBound - range.lowerBound > Self.blockRange * 3 / 2 {
                let start = Evaluation.floorDivide(range.lowerBound, Self.blockRange) * Self.blockRange
                try cutHead(&state, from: start, until: start + Self.blockRange)
                done.cut += 1
            }
            done.merged = try compact(&state)
            done.deleted = applyRetention(&state, now: now)
            return done
        }
    }

    /// Writes everything the head holds into blocks (one per two-hour range), leaving it empty: a snapshot, for
    /// a store about to be copied, for tests that read through blocks, and for measuring blocks' size.
    public func persistHead() throws(BlockError) {
        try state.withLock { (state: inout State) throws(BlockError) in
            while let range = state.head.timeRange {
                let start = Evaluation.floorDivide(range.lowerBound, Self.blockRange) * Self.blockRange
                try cutHead(&state, from: start, until: start + Self.blockRange)
            }
        }
    }

    private func cutHead(_ state: inout State, from start: Int64, until end: Int64) throws(BlockError) {
        var writer: BlockWriter
        do {
            writer = try BlockWriter(directory: blockDirectory, minTime: start, maxTime: end, level: 1)
            for (labels, samples) in state.head.seriesSamples(from: start, until: end) {
                try writer.add(labels, samples)
            }
        } catch {
            throw .unreadable(blockDirectory, "cutting the head into a block failed: \(error)")
        }
        let block = try writer.finish()
        state.blocks.append(block)
        state.head.truncate(before: end)
        do {
            try state.log.checkpoint(state.head.records)
        } catch {
            // The block is whole; the log still holds what it replaced, which a restart skips (older than the
            // block's end). The next cut checkpoints again.
            throw .unreadable(state.log.directory, "checkpointing the log failed: \(error.description)")
        }
    }

    /// Merges runs of blocks that together fill one range of a higher level, once that range is complete (a
    /// later block exists or the head has moved past it). Answers how many blocks were written.
    private func compact(_ state: inout State) throws(BlockError) -> Int {
        var written = 0
        for range in Self.compactionRanges where range <= max(Self.blockRange, retention.time / 10) {
            var index = 0
            while index < state.blocks.count {
                let window = Evaluation.floorDivide(state.blocks[index].minTime, range)
                let windowEnd = window * range + range
                var end = index
                while end < state.blocks.count, state.blocks[end].maxTime <= windowEnd,
                    state.blocks[end].minTime >= window * range
                {
                    end += 1
                }
                let complete = state.head.minValidTime >= windowEnd
                guard end - index >= 2 && complete else {
                    index = max(end, index + 1)
                    continue
                }
                let merged = try merge(Array(state.blocks[index..<end]), from: window * range, until: windowEnd)
                for block in state.blocks[index..<end] { FileSystem.removeIfPresent(block.path) }
                DurableFile.syncDirectory(blockDirectory)
                state.blocks.replaceSubrange(index..<end, with: [merged])
                written += 1
                index += 1
            }
        }
        return written
    }

    /// One block holding every series of `sources` (in time order, not overlapping), series by series.
    private func merge(_ sources: [Block], from start: Int64, until end: Int64) throws(BlockError) -> Block {
        let level = (sources.map(\.level).max() ?? 1) + 1
        var writer: BlockWriter
        do {
            writer = try BlockWriter(directory: blockDirectory, minTime: start, maxTime: end, level: level)
        } catch {
            throw .unreadable(blockDirectory, "merging blocks failed: \(error.description)")
        }
        var bySeries: [Labels: [(block: Int, series: Block.Series)]] = [:]
        for (number, block) in sources.enumerated() {
            for series in block.series { bySeries[series.labels, default: []].append((number, series)) }
        }
        do {
            for labels in bySeries.keys.sorted() {
                var samples: [Sample] = []
                for (number, series) in bySeries[labels] ?? [] {
                    samples += try sources[number].samples(of: series, from: .min, through: .max)
                }
                try writer.add(labels, samples)
            }
        } catch let error as BlockError {
            writer.abandon()
            throw error
        } catch {
            writer.abandon()
            throw .unreadable(blockDirectory, "merging blocks failed: \(error)")
        }
        return try writer.finish()
    }

    /// Deletes the oldest blocks that end before the retention time, then more while the store is over its size.
    private func applyRetention(_ state: inout State, now: Int64) -> Int {
        let newest = max(state.head.timeRange?.upperBound ?? .min, state.blocks.last?.maxTime ?? .min)
        let cutoff = max(newest, now) - retention.time
        var deleted = 0
        while let oldest = state.blocks.first, oldest.maxTime <= cutoff {
            remove(oldest, from: &state)
            deleted += 1
        }
        if let limit = retention.bytes {
            var total = state.log.diskBytes + state.blocks.reduce(0) { $0 + $1.fileBytes }
            while total > limit, let oldest = state.blocks.first {
                total -= oldest.fileBytes
                remove(oldest, from: &state)
                deleted += 1
            }
        }
        return deleted
    }

    private func remove(_ block: Block, from state: inout State) {
        FileSystem.removeIfPresent(block.path)
        DurableFile.syncDirectory(blockDirectory)
        state.blocks.removeFirst()
    }

    // MARK: Reading

    /// The series every matcher accepts, in label order, with their samples from `start` through `end`
    /// (milliseconds, inclusive), from the blocks and the head together. Refused, as Prometheus refuses it, when
    /// that would mean holding more than `limit` samples.
    public func select(_ matchers: [LabelMatcher], from start: Int64, through end: Int64, atMost limit: Int)
        throws(PromQLEvaluationError) -> [SeriesSamples]
    {
        try state.withLock { (state: inout State) throws(PromQLEvaluationError) -> [SeriesSamples] in
            var merged: [Labels: [Sample]] = [:]
            var budget = limit
            for block in state.blocks where block.maxTime > start && block.minTime <= end {
                let found: [(Labels, [Sample])]?
                do {
                    found = try block.select(matchers, from: start, through: end, budget: &budget)
                } catch {
                    throw PromQLEvaluationError("\(error)")
                }
                guard let found else { throw Self.tooManySamples }
                for (labels, samples) in found { merged[labels, default: []] += samples }
            }
            for (labels, samples) in state.head.select(matchers, from: start, through: end) {
                budget -= samples.count
                guard budget >= 0 else { throw Self.tooManySamples }
                merged[labels, default: []] += samples
            }
            return merged.map { SeriesSamples(labels: $0.key, samples: $0.value) }.sorted { $0.labels < $1.labels }
        }
    }

    /// Each matching series' newest sample from `start` through `end` (an instant selector's question), without
    /// decoding what it does not need: the head's last sample is kept as it is, and a block's last chunk in the
    /// range is the only one read. Series with a newer one in the head are answered from the head.
    public func newest(_ matchers: [LabelMatcher], from start: Int64, through end: Int64)
        throws(PromQLEvaluationError) -> [SeriesSamples]
    {
        try state.withLock { (state: inout State) throws(PromQLEvaluationError) -> [SeriesSamples] in
            var found: [Labels: Sample] = [:]
            for (labels, sample) in state.head.newest(matchers, from: start, through: end) { found[labels] = sample }
            // Blocks hold only what is older than the head; newest block first, a series taken once.
            for block in state.blocks.reversed() where block.maxTime > start && block.minTime <= end {
                do {
                    for (labels, sample) in try block.newest(matchers, from: start, through: end)
                    where found[labels] == nil {
                        found[labels] = sample
                    }
                } catch {
                    throw PromQLEvaluationError("\(error)")
                }
            }
            return found.map { SeriesSamples(labels: $0.key, samples: [$0.value]) }.sorted { $0.labels < $1.labels }
        }
    }

    /// The label sets of the series every matcher accepts with samples from `start` through `end`, sorted, read
    /// from the index and the head without decoding a sample (`/api/v1/series`, `labels`, `label/…/values`).
    public func labelSets(_ matchers: [LabelMatcher], from start: Int64, through end: Int64) -> [Labels] {
        state.withLock { state in
            var found = Set(state.head.labelSets(matchers, from: start, through: end))
            for block in state.blocks { found.formUnion(block.labelSets(matchers, from: start, through: end)) }
            return found.sorted()
        }
    }

    static let tooManySamples = PromQLEvaluationError(
        "query processing would load too many samples into memory in query execution")

    /// Each matching series' newest sample that is not a staleness marker, however old: what a counter had reached
    /// when the daemon last stopped. Reads the head, then each block's last chunks, newest block first.
    public func lastSamples(_ matchers: [LabelMatcher]) throws(PromQLEvaluationError) -> [Labels: Sample] {
        try state.withLock { (state: inout State) throws(PromQLEvaluationError) -> [Labels: Sample] in
            var found: [Labels: Sample] = [:]
            for (labels, samples) in state.head.select(matchers, from: .min, through: .max) {
                if let last = samples.last(where: { $0.value.bitPattern != Sample.staleNaN.bitPattern }) {
                    found[labels] = last
                }
            }
            for block in state.blocks.reversed() {
                do {
                    for (labels, sample) in try block.lastSamples(matchers) where found[labels] == nil {
                        found[labels] = sample
                    }
                } catch {
                    throw PromQLEvaluationError("\(error)")
                }
            }
            return found
        }
    }

    /// Every label name in the blocks and the head, sorted.
    public var labelNames: [String] {
        state.withLock { state in
            var names = Set(state.head.labelNames)
            for block in state.blocks { names.formUnion(block.labelNames) }
            return names.sorted()
        }
    }

    /// Every value of a label in the blocks and the head, sorted.
    public func labelValues(_ name: String) -> [String] {
        state.withLock { state in
            var values = Set(state.head.labelValues(name))
            for block in state.blocks { values.formUnion(block.labelValues(name)) }
            return values.sorted()
        }
    }

    /// Samples refused since the store opened: out of order, and at an existing time with another value.
    public var refused: Appended { state.withLock { $0.refused } }

    public var statistics: Statistics {
        state.withLock { state in
            Statistics(
                headSeries: state.head.series.count, headSamples: state.head.sampleCount, blocks: state.blocks.count,
                blockSamples: state.blocks.reduce(0) { $0 + $1.sampleCount },
                blockBytes: state.blocks.reduce(0) { $0 + $1.fileBytes }, logBytes: state.log.diskBytes,
                refused: state.refused)
        }
    }

    /// The blocks' ranges and levels, oldest first (for tests and the status page).
    public var blockRanges: [(minTime: Int64, maxTime: Int64, level: Int)] {
        state.withLock { state in state.blocks.map { ($0.minTime, $0.maxTime, $0.level) } }
    }
}
