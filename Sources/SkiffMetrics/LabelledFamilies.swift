import Synchronization

/// Counters by label values, e.g. requests by code and method. Label values are given in the order of
/// `labelNames`.
public final class CounterFamily: MetricsCollector {
    private let family: LabelledValues<Double>

    public init(_ name: String, help: String, labelNames: [String] = []) {
        family = LabelledValues(name, .counter, help: help, labelNames: labelNames)
    }

    public func increment(_ labelValues: [String] = [], by amount: Double = 1) {
        family.update(labelValues, initial: 0) { $0 += amount }
    }

    public func collect() async -> [MetricFamily] {
        [family.snapshot { family, labels, value in family.add(labels, value) }]
    }
}

/// Gauges by label values: values that go up and down (requests in flight, replicas).
public final class GaugeFamily: MetricsCollector {
    private let family: LabelledValues<Double>

    public init(_ name: String, help: String, labelNames: [String] = []) {
        family = LabelledValues(name, .gauge, help: help, labelNames: labelNames)
    }

    public func set(_ labelValues: [String] = [], to value: Double) {
        family.update(labelValues, initial: 0) { $0 = value }
    }

    public func add(_ labelValues: [String] = [], _ amount: Double) {
        family.update(labelValues, initial: 0) { $0 += amount }
    }

    public func collect() async -> [MetricFamily] {
        [family.snapshot { family, labels, value in family.add(labels, value) }]
    }
}

/// Histograms by label values, with fixed bucket bounds.
public final class HistogramFamily: MetricsCollector {
    private let family: LabelledValues<PrometheusHistogram>
    private let bounds: [Double]

    public init(
        _ name: String, help: String, labelNames: [String] = [], bounds: [Double] = PrometheusHistogram.secondsBuckets
    ) {
        family = LabelledValues(name, .histogram, help: help, labelNames: labelNames)
        self.bounds = bounds
    }

    public func observe(_ labelValues: [String] = [], _ value: Double) {
        family.update(labelValues, initial: PrometheusHistogram(bounds: bounds)) { $0.observe(value) }
    }

    public func collect() async -> [MetricFamily] {
        [family.snapshot { family, labels, value in family.add(labels, value) }]
    }
}

/// The state the three families share: one value per combination of label values, under one lock.
final class LabelledValues<Value: Sendable>: Sendable {
    let name: String
    let kind: MetricFamily.Kind
    let help: String
    let labelNames: [String]
    private let values = Mutex<[[String]: Value]>([:])

    init(_ name: String, _ kind: MetricFamily.Kind, help: String, labelNames: [String]) {
        self.name = name
        self.kind = kind
        self.help = help
        self.labelNames = labelNames
    }

    func update(_ labelValues: [String], initial: Value, _ change: (inout Value) -> Void) {
        assert(labelValues.count == labelNames.count, "\(name) takes the labels \(labelNames)")
        guard labelValues.count == labelNames.count else { return }
        values.withLock { change(&$0[labelValues, default: initial]) }
    }

    /// The family with one series per combination, in label order, so that the text is stable between scrapes.
    func snapshot(_ add: (inout MetricFamily, [MetricLabel], Value) -> Void) -> MetricFamily {
        let current = values.withLock { $0 }
        var family = MetricFamily(name, kind, help: help)
        for key in current.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            guard let value = current[key] else { continue }
            add(&family, zip(labelNames, key).map { MetricLabel($0, $1) }, value)
        }
        return family
    }
}
