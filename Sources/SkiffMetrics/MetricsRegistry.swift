import Synchronization

/// Something that reports metric families when asked: the gateway's invocation counters, the process, a broker
/// or a queue. Collectors keep their own state; collecting reads it.
public protocol MetricsCollector: Sendable {
    func collect() async -> [MetricFamily]
}

/// Every collector of a process, in the order registered. `/metrics` renders it as text; the metrics store reads
/// the same families in-process, with no HTTP round-trip.
public final class MetricsRegistry: Sendable {
    private let collectors = Mutex<[any MetricsCollector]>([])

    public init() {}

    public func register(_ collector: any MetricsCollector) {
        collectors.withLock { $0.append(collector) }
    }

    /// Every family of every collector, as of now.
    public func collect() async -> [MetricFamily] {
        var families: [MetricFamily] = []
        for collector in collectors.withLock({ $0 }) { families += await collector.collect() }
        return families
    }

    /// The Prometheus text exposition (format 0.0.4) of ``collect()``.
    public func exposition() async -> String {
        PrometheusText.render(await collect())
    }
}
