import SkiffMetrics

/// A series' identity: label names and values, sorted by name, names unique; the metric name is the label
/// `__name__`. Compared and ordered as Prometheus orders series (name by name, then value).
public struct Labels: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// One name and value: the registry's label type, so that its samples go into the store as they are.
    public typealias Label = MetricLabel

    public static let metricName = "__name__"

    /// Sorted by name; no empty values (a label with an empty value is no label, as in Prometheus).
    public private(set) var labels: [Label]

    /// The pairs in any order; empty values are dropped, and of a name given twice the last value stands.
    public init(_ pairs: [(String, String)]) {
        // Sorted by name and then by position, so that of a name given twice the later pair comes last and stays.
        let ordered = pairs.enumerated().sorted { ($0.element.0, $0.offset) < ($1.element.0, $1.offset) }
        var labels: [Label] = []
        labels.reserveCapacity(pairs.count)
        for (_, (name, value)) in ordered {
            if labels.last?.name == name { labels.removeLast() }
            labels.append(Label(name, value))
        }
        labels.removeAll { $0.value.isEmpty }
        self.labels = labels
    }

    /// Labels already sorted by name, unique and without empty values (a subset of another set's, say).
    init(sorted labels: [Label]) {
        self.labels = labels
    }

    public init(_ dictionary: [String: String]) {
        self.init(dictionary.map { ($0.key, $0.value) })
    }

    public subscript(name: String) -> String? { labels.first { $0.name == name }?.value }

    public var name: String? { self[Self.metricName] }

    public static func < (a: Labels, b: Labels) -> Bool {
        for (x, y) in zip(a.labels, b.labels) {
            if x.name != y.name { return x.name < y.name }
            if x.value != y.value { return x.value < y.value }
        }
        return a.labels.count < b.labels.count
    }

    /// `name{a="x", b="y"}`, as Prometheus prints a series.
    public var description: String {
        let rest = labels.filter { $0.name != Self.metricName }
            .map { "\($0.name)=\"\(PrometheusText.escape($0.value))\"" }.joined(separator: ", ")
        return (name ?? "") + "{" + rest + "}"
    }
}
