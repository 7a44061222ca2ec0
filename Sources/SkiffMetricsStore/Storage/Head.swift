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
    private var postings: [String: [String: [UInt64]]] = [:]
    private(set) var nextID: UInt64 = 1
    private(set) var sampleCount = 0

    // MARK: Writing

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
        for label in new.labels.labels {
            // Ids are given in increasing order, so appending keeps each list sorted (in place: copying the list
            // out and back made every new series cost the length of its name's list); a replayed id may not be.
            postings[label.name, default: [:]][label.value, default: []].append(new.id)
            if let list = postings[label.name]?[label.value], list.count > 1, list[list.count - 2] > new.id {
                postings[label.name]?[label.value]?.sort()
            }
        }
    }

    mutating func append(_ sample: Sample, to id: UInt64) -> Outcome {
        guard var entry = series[id] else { return .outOfOrder }
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

    /// Ids that may match: the intersection of the postings of every matcher that needs its label present (each
    /// the union of the lists of the values it accepts); every series when no matcher needs one.
    private func candidates(_ matchers: [LabelMatcher]) -> [UInt64] {
        var result: [UInt64]?
        for matcher in matchers where !matcher.matchesEmpty {
            var union: [UInt64] = []
            if matcher.kind == .equal {
                union = postings[matcher.name]?[matcher.value] ?? []
            } else {
                for (value, list) in postings[matcher.name] ?? [:] where matcher.matches(value) { union += list }
                union.sort()
            }
            result = result.map { Self.intersect($0, union) } ?? union
            if result?.isEmpty == true { return [] }
        }
        return result ?? series.keys.sorted()
    }

    private static func intersect(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] {
        var common: [UInt64] = []
        var i = 0
        var j = 0
        while i < a.count && j < b.count {
            if a[i] == b[j] {
                common.append(a[i])
                i += 1
                j += 1
            } else if a[i] < b[j] {
                i += 1
            } else {
                j += 1
            }
        }
        return common
    }

    /// Every label name, sorted.
    var labelNames: [String] { postings.keys.sorted() }

    /// Every value of a label, sorted.
    func labelValues(_ name: String) -> [String] { (postings[name] ?? [:]).keys.sorted() }
}
