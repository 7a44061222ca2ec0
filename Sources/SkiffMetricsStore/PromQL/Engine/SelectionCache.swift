import Synchronization

/// What one query reads, read once. A range query evaluates its expression at every step, and each step's
/// selectors ask for a window that has moved by one step; asking the store each time decoded the same chunks
/// hundreds of times (and read them from the blocks' files). The first request of a selector fetches everything
/// the query's steps can ask of it (its window stretched over the query's span); later windows are cut from that
/// by binary search.
final class SelectionCache: SeriesSource {
    private struct Entry {
        var from: Int64
        var through: Int64
        var series: [TimeSeriesStore.SeriesSamples]
        /// Per series: whether it holds a staleness marker anywhere.
        var stale: [Bool]
        /// Per series: the decreases up to each index.
        var resets: [[Int32]]
        var sampleCount: Int
    }

    let source: any SeriesSource
    /// How far the evaluation time moves over the query (its end less its start).
    let span: Int64
    /// Samples one query may hold, all its selectors together.
    let limit: Int
    private let entries = Mutex<[String: Entry]>([:])
    private let loaded = Mutex(0)

    init(source: any SeriesSource, span: Int64, limit: Int) {
        self.source = source
        self.span = max(0, span)
        self.limit = limit
    }

    func select(_ matchers: [LabelMatcher], from start: Int64, through end: Int64, atMost _: Int)
        throws(PromQLEvaluationError) -> [TimeSeriesStore.SeriesSamples]
    {
        try windows(matchers, from: start, through: end).map {
            TimeSeriesStore.SeriesSamples(labels: $0.labels, samples: Array($0.samples))
        }
    }

    /// An instant selector's question: cut from what was read when that covers it (a range query's steps), asked
    /// of the source otherwise (an instant query, which reads each selector once anyway).
    func newest(_ matchers: [LabelMatcher], from start: Int64, through end: Int64)
        throws(PromQLEvaluationError) -> [TimeSeriesStore.SeriesSamples]
    {
        let key = matchers.map(\.description).joined(separator: ",")
        if span == 0, entries.withLock({ $0[key] == nil }) {
            let series = try source.newest(matchers, from: start, through: end)
            loaded.withLock { $0 += series.count }
            return series
        }
        return try windows(matchers, from: start, through: end).compactMap { window in
            window.samples.last.map { TimeSeriesStore.SeriesSamples(labels: window.labels, samples: [$0]) }
        }
    }

    func windows(_ matchers: [LabelMatcher], from start: Int64, through end: Int64)
        throws(PromQLEvaluationError) -> [SeriesWindow]
    {
        let key = matchers.map(\.description).joined(separator: ",")
        if let entry = entries.withLock({ $0[key] }), entry.from <= start, entry.through >= end {
            return Self.cut(entry, from: start, through: end)
        }
        let previous = entries.withLock { $0[key] }
        let from = min(start, previous?.from ?? start)
        let (stretched, overflow) = end.addingReportingOverflow(span)
        let through = max(overflow ? .max : stretched, previous?.through ?? end)
        // What this selector held before is replaced, not added to.
        let held = loaded.withLock { $0 } - (previous?.sampleCount ?? 0)
        let series = try source.select(matchers, from: from, through: through, atMost: max(0, limit - held))
        let count = series.reduce(0) { $0 + $1.samples.count }
        loaded.withLock { $0 = held + count }
        let marker = Sample.staleNaN.bitPattern
        let stale = series.map { $0.samples.contains { $0.value.bitPattern == marker } }
        let resets = series.map { series in
            var count: Int32 = 0
            var previous = series.samples.first?.value ?? 0
            return series.samples.map { sample in
                if sample.value < previous { count += 1 }
                previous = sample.value
                return count
            }
        }
        let entry = Entry(
            from: from, through: through, series: series, stale: stale, resets: resets, sampleCount: count)
        entries.withLock { $0[key] = entry }
        return Self.cut(entry, from: start, through: end)
    }

    /// Each series' samples within `[start, end]`; series with none there are left out.
    private static func cut(_ entry: Entry, from start: Int64, through end: Int64) -> [SeriesWindow] {
        var found: [SeriesWindow] = []
        for (number, series) in entry.series.enumerated() {
            let lower = firstIndex(series.samples) { $0.timestamp >= start }
            let upper = firstIndex(series.samples) { $0.timestamp > end }
            if lower < upper {
                found.append(
                    SeriesWindow(
                        labels: series.labels, samples: series.samples[lower..<upper], mayHoldStale: entry.stale[number]
                    ))
            }
        }
        return found
    }

    /// The first index whose sample satisfies `predicate` (false then true along the array), or the count.
    private static func firstIndex(_ samples: [Sample], where predicate: (Sample) -> Bool) -> Int {
        var low = 0
        var high = samples.count
        while low < high {
            let middle = (low + high) / 2
            if predicate(samples[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
