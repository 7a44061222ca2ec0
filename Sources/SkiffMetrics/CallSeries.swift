/// Calls counted per key (a function and status code, a status code and method): how many, and a latency
/// histogram. A value the owner keeps under its own lock beside whatever else it counts, so that recording a
/// call stays one lock hold with no allocation.
public struct CallSeries<Key: Hashable & Sendable>: Sendable {
    private var total: [Key: UInt64] = [:]
    private var seconds: [Key: PrometheusHistogram] = [:]

    public init() {}

    public mutating func record(_ key: Key, seconds elapsed: Double) {
        total[key, default: 0] += 1
        seconds[key, default: PrometheusHistogram()].observe(elapsed)
    }

    /// Adds calls counted before this process began (read back from the metrics store), so that the counter goes
    /// on from where it stood instead of starting again at zero. The histogram is not carried.
    public mutating func carry(_ key: Key, count: UInt64) {
        total[key, default: 0] += count
    }

    /// Calls recorded under keys that `matches` admits.
    public func count(where matches: (Key) -> Bool) -> UInt64 {
        total.reduce(0) { $0 + (matches($1.key) ? $1.value : 0) }
    }

    /// The counter family `countName` and the histogram family `secondsName`, series in `order`.
    public func families(
        count countName: String, countHelp: String, seconds secondsName: String, secondsHelp: String,
        labels: (Key) -> [MetricLabel], order: (Key, Key) -> Bool
    ) -> [MetricFamily] {
        var counts = MetricFamily(countName, .counter, help: countHelp)
        var histograms = MetricFamily(secondsName, .histogram, help: secondsHelp)
        for key in total.keys.sorted(by: order) {
            counts.add(labels(key), Double(total[key] ?? 0))
            if let histogram = seconds[key] { histograms.add(labels(key), histogram) }
        }
        return [counts, histograms]
    }
}
