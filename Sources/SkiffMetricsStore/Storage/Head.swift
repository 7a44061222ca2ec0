/// The store's most recent samples, in memory: every series with its label set, its closed chunks and its open
/// one, and an inverted index (label name → value → series ids, ascending) that selectors are answered from.
/// Samples are refused when they are not newer than the series' last (counted, as Prometheus counts them).
///
/// A value type under its owner's lock; it knows nothing of files (the write-ahead log makes it durable) or time.
struct Head {
    struct ClosedChunk {
        let first: Int64
        let last: Int64
        let chunk: XORChunk
    }

    struct Series {
        let id: UInt64
        let labels: Labels
        var closed: [ClosedChunk] = []
        var open = XORChunk()
        var openFirst: Int64 = 0
        var last: Sample?
        var cutter = ChunkCutter()

        /// The samples from `start` through `end`, oldest first, reading only the chunks that overlap.
        func samples(from start: Int64, through end: Int64) -> [Sample] {
            var found: [Sample] = []
            for closed in closed where closed.last >= start && closed.first <= end {
                Self.collect(closed.chunk, from: start, through: end, into: &found)
            }
            if let last, open.count > 0, last.timestamp >= start, openFirst <= end {
                Self.collect(open, from: start, through: end, into: &found)
            }
            return found
        }

        static func decode(_ chunk: XORChunk) -> [Sample] {
            var found: [Sample] = []
            collect(chunk, from: .min, through: .max, into: &found)
            return found
        }

        private static func collect(
            _ chunk: XORChunk, from start: Int64, through end: Int64, into found: inout [Sample]
        ) {
            var iterator = chunk.makeIterator()
            // Chunks in memory were written here: they decode whole.
            while let sample = try? iterator.nextSample(), sample.timestamp <= end {
                if sample.timestamp >= start { found.append(sample) }
            }
        }
    }

    enum Outcome: Equatable {
        case stored
        /// Not newer than the series' last sample: refused.
        case outOfOrder
        /// The series' last sample again, same time and value: ignored, as Prometheus does.
        case duplicate
        /// The same time as the series' last sample with another value: refused.
        case conflicting
    }

    private(set) var series: [UInt64: Series] = [:]
    private var ids: [Labels: UInt64] = [:]
    private var postings = Postings()
    private(set) var nextID: UInt64 = 1
    private(set) var sampleCount = 0
    /// Samples before this time belong to a block already written: they are refused as out of order.
    var minValidTime: Int64 = .min

    // MARK: Writing

    func contains(_ labels: Labels) -> Bool { ids[labels] != nil }

    /// The id of the series with `labels`, made if it is new (then `created` is true: the log must record it).
    mutating func seriesID(for labels: Labels) -> (id: UInt64, created: Bool) {
        if let id = ids[labels] { return (id, false) }
        let id = nextID
        add(Series(id: id, labels: labels))
        return (id, true)
    }

    /// A series as the log recorded it, with its id (replay).
    mutating func restore(id: UInt64, labels: Labels) {
        guard series[id] == nil, ids[labels] == nil else { return }
        add(Series(id: id, labels: labels))
    }

    private mutating func add(_ new: Series) {
        series[new.id] = new
        ids[new.labels] = new.id
        nextID = max(nextID, new.id + 1)
        postings.add(new.id, new.labels)
    }

    mutating func append(_ sample: Sample, to id: UInt64) -> Outcome {
        guard var entry = series[id], sample.timestamp >= minValidTime else { return .outOfOrder }
        if let last = entry.last, sample.timestamp <= last.timestamp {
            guard sample.timestamp == last.timestamp else { return .outOfOrder }
            return sample.value.bitPattern == last.value.bitPattern ? .duplicate : .conflicting
        }
        // Taken out while it changes, so that its chunks are not copied.
        series[id] = nil
        if entry.cutter.startsChunk(
            at: sample.timestamp, count: entry.open.count, first: entry.openFirst, last: entry.last?.timestamp ?? 0)
        {
            if entry.open.count > 0, let last = entry.last {
                entry.closed.append(ClosedChunk(first: entry.openFirst, last: last.timestamp, chunk: entry.open))
            }
            entry.open = XORChunk()
            entry.openFirst = sample.timestamp
        }
        entry.open.append(sample)
        entry.last = sample
        series[id] = entry
        sampleCount += 1
        return .stored
    }

    // MARK: Reading

    /// The series every matcher accepts, in label order, with their samples from `start` through `end` (series
    /// without any there are left out).
    func select(_ matchers: [LabelMatcher], from start: Int64, through end: Int64) -> [(Labels, [Sample])] {
        var found: [(Labels, [Sample])] = []
        for id in candidates(matchers) {
            guard let entry = series[id], matchers.allSatisfy({ $0.matches(entry.labels[$0.name]) }) else { continue }
            let samples = entry.samples(from: start, through: end)
            if !samples.isEmpty { found.append((entry.labels, samples)) }
        }
        return found.sorted { $0.0 < $1.0 }
    }

    /// Each matching series' newest sample from `start` through `end`: the last sample itself when it falls there
    /// (an instant query at "now"), else found by decoding; series without one there are left out.
    func newest(_ matchers: [LabelMatcher], from start: Int64, through end: Int64) -> [(Labels, Sample)] {
        var found: [(Labels, Sample)] = []
        for id in candidates(matchers) {
            guard let entry = series[id], let last = entry.last,
                matchers.allSatisfy({ $0.matches(entry.labels[$0.name]) })
            else { continue }
            if last.timestamp <= end {
                if last.timestamp >= start { found.append((entry.labels, last)) }
                continue
            }
            if let sample = entry.samples(from: start, through: end).last { found.append((entry.labels, sample)) }
        }
        return found
    }

    /// The label sets of the matching series with samples in `start` through `end`, from the chunks' times.
    func labelSets(_ matchers: [LabelMatcher], from start: Int64, through end: Int64) -> [Labels] {
        candidates(matchers).compactMap { id in
            guard let entry = series[id], let last = entry.last,
                matchers.allSatisfy({ $0.matches(entry.labels[$0.name]) })
            else { return nil }
            let first = entry.closed.first?.first ?? entry.openFirst
            return first <= end && last.timestamp >= start ? entry.labels : nil
        }
    }

    private func candidates(_ matchers: [LabelMatcher]) -> [UInt64] {
        postings.candidates(matchers) ?? series.keys.sorted()
    }

    /// Every label name, sorted.
    var labelNames: [String] { postings.labelNames }

    /// Every value of a label, sorted.
    func labelValues(_ name: String) -> [String] { postings.labelValues(name) }

    /// The earliest and latest sample held; nil when the head is empty.
    var timeRange: ClosedRange<Int64>? {
        var earliest = Int64.max
        var latest = Int64.min
        for entry in series.values {
            guard let last = entry.last else { continue }
            earliest = min(earliest, entry.closed.first?.first ?? entry.openFirst)
            latest = max(latest, last.timestamp)
        }
        return earliest <= latest ? earliest...latest : nil
    }

    /// Every series with samples from `start` until (not including) `end`, in label order: what becomes a block.
    func seriesSamples(from start: Int64, until end: Int64) -> [(Labels, [Sample])] {
        series.values.compactMap { entry -> (Labels, [Sample])? in
            let samples = entry.samples(from: start, through: end - 1)
            return samples.isEmpty ? nil : (entry.labels, samples)
        }.sorted { $0.0 < $1.0 }
    }

    // MARK: Truncation

    /// Forgets every sample before `time` (now in a block) and the series left without any, and refuses samples
    /// before it from now on. Chunks never cross a block boundary as Prometheus cuts them; one that does (a head
    /// cut at another time) is re-encoded from `time` on.
    mutating func truncate(before time: Int64) {
        minValidTime = max(minValidTime, time)
        var kept: [UInt64: Series] = [:]
        var count = 0
        for (id, var entry) in series {
            guard let last = entry.last, last.timestamp >= time else { continue }
            entry.closed = entry.closed.compactMap { closed in
                if closed.first >= time { return closed }
                if closed.last < time { return nil }
                let kept = Series.decode(closed.chunk).filter { $0.timestamp >= time }
                var chunk = XORChunk()
                for sample in kept { chunk.append(sample) }
                return ClosedChunk(first: kept.first?.timestamp ?? time, last: closed.last, chunk: chunk)
            }
            if entry.openFirst < time {
                let kept = Series.decode(entry.open).filter { $0.timestamp >= time }
                var chunk = XORChunk()
                for sample in kept { chunk.append(sample) }
                entry.open = chunk
                entry.openFirst = kept.first?.timestamp ?? time
            }
            count += entry.closed.reduce(0) { $0 + $1.chunk.count } + entry.open.count
            kept[id] = entry
        }
        series = kept
        sampleCount = count
        ids = [:]
        postings = Postings()
        for id in kept.keys.sorted() {
            guard let entry = kept[id] else { continue }
            ids[entry.labels] = id
            postings.add(id, entry.labels)
        }
    }

    /// What the write-ahead log must hold to rebuild this head: every series, then its samples.
    var records: [WALRecord] {
        var records: [WALRecord] = []
        for id in series.keys.sorted() {
            guard let entry = series[id] else { continue }
            records.append(.series(id: id, labels: entry.labels))
            let samples = entry.samples(from: .min, through: .max)
            if !samples.isEmpty { records.append(.samples(samples.map { (id, $0) })) }
        }
        return records
    }
}
