/// Prometheus text exposition (format 0.0.4), written without Foundation so that the static watchdog can use it
/// as well as the gateway. Families are announced with HELP and TYPE, then their samples follow.
public struct PrometheusText: Sendable {
    public private(set) var text = ""

    public init() {}

    public mutating func family(_ name: String, type: String, help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    /// One sample line: `name{label="value",…} number`.
    public mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " \(Self.number(value))\n"
    }

    /// The `_bucket` (cumulative, then `+Inf`), `_sum` and `_count` lines of one histogram series.
    public mutating func histogram(_ name: String, _ labels: [(String, String)], _ histogram: PrometheusHistogram) {
        for (index, bound) in histogram.bounds.enumerated() {
            sample(name + "_bucket", labels + [("le", Self.number(bound))], Double(histogram.counts[index]))
        }
        sample(name + "_bucket", labels + [("le", "+Inf")], Double(histogram.count))
        sample(name + "_sum", labels, histogram.sum)
        sample(name + "_count", labels, Double(histogram.count))
    }

    /// Label values escape backslash, double quote and newline.
    public static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    /// Whole numbers without a fraction (`3`, not `3.0`), others as Swift prints them.
    public static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

/// A latency histogram with fixed bucket bounds; counts are per bucket (cumulative when written).
public struct PrometheusHistogram: Sendable {
    /// The buckets OpenFaaS uses for `gateway_functions_seconds` and the watchdogs for request durations.
    public static let secondsBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    public let bounds: [Double]
    public private(set) var counts: [UInt64]
    public private(set) var sum = 0.0
    public private(set) var count: UInt64 = 0

    public init(bounds: [Double] = PrometheusHistogram.secondsBuckets) {
        self.bounds = bounds
        counts = [UInt64](repeating: 0, count: bounds.count)
    }

    public mutating func observe(_ value: Double) {
        for (index, bound) in bounds.enumerated() where value <= bound { counts[index] += 1 }
        sum += value
        count += 1
    }
}
