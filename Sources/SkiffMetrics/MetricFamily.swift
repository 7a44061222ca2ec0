/// One metric family as a collector reports it at one instant: its name, type, help, and samples with their full
/// names (a histogram's `_bucket`, `_sum` and `_count` lines included). What `/metrics` writes as text and what the
/// metrics store will ingest in-process.
public struct MetricFamily: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case counter, gauge, histogram
    }

    public var name: String
    public var kind: Kind
    public var help: String
    public var samples: [MetricSample]

    public init(_ name: String, _ kind: Kind, help: String, samples: [MetricSample] = []) {
        self.name = name
        self.kind = kind
        self.help = help
        self.samples = samples
    }

    /// A family of one unlabelled sample.
    public static func single(_ name: String, _ kind: Kind, help: String, _ value: Double) -> MetricFamily {
        MetricFamily(name, kind, help: help, samples: [MetricSample(name: name, labels: [], value: value)])
    }

    /// Adds one sample named after the family.
    public mutating func add(_ labels: [MetricLabel] = [], _ value: Double) {
        samples.append(MetricSample(name: name, labels: labels, value: value))
    }

    /// Adds one histogram series: cumulative `_bucket` samples ending with `+Inf`, then `_sum` and `_count`.
    public mutating func add(_ labels: [MetricLabel], _ histogram: PrometheusHistogram) {
        for (index, bound) in histogram.bounds.enumerated() {
            samples.append(
                MetricSample(
                    name: name + "_bucket", labels: labels + [MetricLabel("le", PrometheusText.number(bound))],
                    value: Double(histogram.counts[index])))
        }
        samples.append(
            MetricSample(
                name: name + "_bucket", labels: labels + [MetricLabel("le", "+Inf")], value: Double(histogram.count)))
        samples.append(MetricSample(name: name + "_sum", labels: labels, value: histogram.sum))
        samples.append(MetricSample(name: name + "_count", labels: labels, value: Double(histogram.count)))
    }
}

public struct MetricLabel: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

public struct MetricSample: Sendable, Equatable {
    public var name: String
    public var labels: [MetricLabel]
    public var value: Double

    public init(name: String, labels: [MetricLabel], value: Double) {
        self.name = name
        self.labels = labels
        self.value = value
    }
}
