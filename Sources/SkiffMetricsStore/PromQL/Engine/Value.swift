/// Where the engine reads series from: the store, or anything that answers selectors the same way.
public protocol SeriesSource: Sendable {
    /// The series every matcher accepts, in label order, with their samples from `start` through `end` (ms);
    /// an error when that is more than `limit` samples.
    func select(_ matchers: [LabelMatcher], from start: Int64, through end: Int64, atMost limit: Int)
        throws(PromQLEvaluationError) -> [TimeSeriesStore.SeriesSamples]

    /// The selection as windows (no copy where the source keeps what it read).
    func windows(_ matchers: [LabelMatcher], from start: Int64, through end: Int64)
        throws(PromQLEvaluationError) -> [SeriesWindow]

    /// Each matching series with only its newest sample from `start` through `end`, in label order.
    func newest(_ matchers: [LabelMatcher], from start: Int64, through end: Int64)
        throws(PromQLEvaluationError) -> [TimeSeriesStore.SeriesSamples]
}

extension SeriesSource {
    public func newest(_ matchers: [LabelMatcher], from start: Int64, through end: Int64)
        throws(PromQLEvaluationError) -> [TimeSeriesStore.SeriesSamples]
    {
        try select(matchers, from: start, through: end).compactMap { series in
            series.samples.last.map { TimeSeriesStore.SeriesSamples(labels: series.labels, samples: [$0]) }
        }
    }

    public func select(_ matchers: [LabelMatcher], from start: Int64, through end: Int64)
        throws(PromQLEvaluationError) -> [TimeSeriesStore.SeriesSamples]
    {
        try select(matchers, from: start, through: end, atMost: .max)
    }
}

extension SeriesSource {
    /// The selection as windows over fresh arrays; ``SelectionCache`` cuts them from what it read instead.
    public func windows(_ matchers: [LabelMatcher], from start: Int64, through end: Int64)
        throws(PromQLEvaluationError) -> [SeriesWindow]
    {
        try select(matchers, from: start, through: end).map {
            SeriesWindow(labels: $0.labels, samples: $0.samples[...])
        }
    }
}

extension TimeSeriesStore: SeriesSource {}

/// One element of an instant vector.
public struct VectorElement: Sendable, Equatable {
    public var labels: Labels
    public var value: Double
    /// When the sample was taken, for an element read straight from a series (`timestamp()` reports it); nil
    /// for computed values, which stand at the evaluation time.
    public var sampleTime: Int64?

    public init(labels: Labels, value: Double, sampleTime: Int64? = nil) {
        self.labels = labels
        self.value = value
        self.sampleTime = sampleTime
    }
}

/// One series of a range vector, or of a range query's result. A range vector's samples are a window cut from
/// what the query read (no copy per step), so their indices need not start at zero.
public struct RangeSeries: Sendable, Equatable {
    public var labels: Labels
    public var samples: ArraySlice<Sample>
    /// For a window of what the query read: per index of the read array, how many decreases (counter resets) the
    /// series had up to there, so that `rate` can tell a window without any at once.
    var resets: [Int32]?

    public init(labels: Labels, samples: ArraySlice<Sample>) {
        self.labels = labels
        self.samples = samples
    }

    init(labels: Labels, samples: ArraySlice<Sample>, resets: [Int32]?) {
        self.labels = labels
        self.samples = samples
        self.resets = resets
    }

    public static func == (a: RangeSeries, b: RangeSeries) -> Bool { a.labels == b.labels && a.samples == b.samples }

    /// Whether the samples decrease anywhere: unknown (true) without the index.
    var mayReset: Bool {
        guard let resets, samples.count > 1 else { return resets == nil }
        return resets[samples.endIndex - 1] != resets[samples.startIndex]
    }
}

/// A series' samples within a selector's window, as the engine reads them.
public struct SeriesWindow: Sendable {
    var labels: Labels
    var samples: ArraySlice<Sample>
    /// False when the series is known to hold no staleness marker (then no window of it needs to be searched).
    var mayHoldStale = true
    /// See ``RangeSeries/resets``.
    var resets: [Int32]?
}

/// What a PromQL expression evaluates to at one time.
public enum PromQLValue: Sendable {
    case scalar(Double)
    case string(String)
    case vector([VectorElement])
    case matrix([RangeSeries])
}

/// A query that parsed but cannot be evaluated, in Prometheus's words.
public struct PromQLEvaluationError: Error, Equatable, CustomStringConvertible {
    public let message: String
    /// The evaluation ran past its deadline (the API answers 503, `timeout`).
    public let timedOut: Bool

    public init(_ message: String, timedOut: Bool = false) {
        self.message = message
        self.timedOut = timedOut
    }

    public var description: String { message }
}

extension Labels {
    /// Without `__name__` (what arithmetic and most functions give back).
    var droppingName: Labels { Labels(sorted: labels.filter { $0.name != Self.metricName }) }

    /// With `name` set to `value` (removed when the value is empty).
    func setting(_ name: String, _ value: String) -> Labels {
        var kept = labels.filter { $0.name != name }
        if !value.isEmpty {
            let index = kept.firstIndex { $0.name > name } ?? kept.count
            kept.insert(Label(name, value), at: index)
        }
        return Labels(sorted: kept)
    }

    /// Only the named labels (`by`), or all but them and the name (`without`).
    func grouping(_ names: [String], without: Bool) -> Labels {
        if without {
            return Labels(sorted: labels.filter { $0.name != Self.metricName && !names.contains($0.name) })
        }
        return Labels(sorted: labels.filter { names.contains($0.name) })
    }
}
