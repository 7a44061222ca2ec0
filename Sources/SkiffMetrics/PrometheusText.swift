/// Prometheus text exposition (format 0.0.4), written without Foundation so that the static watchdog can use it
/// as well as the gateway. Families are announced with HELP and TYPE, then their samples follow.
public enum PrometheusText {
    /// The exposition of `families`: each announced with HELP and TYPE, then its samples, one per line
    /// (`name{label="value",…} number`).
    public static func render(_ families: [MetricFamily]) -> String {
        var text = ""
        for family in families {
            text += "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) \(family.kind.rawValue)\n"
            for sample in family.samples {
                text += sample.name
                if !sample.labels.isEmpty {
                    text +=
                        "{" + sample.labels.map { "\($0.name)=\"\(escape($0.value))\"" }.joined(separator: ",") + "}"
                }
                text += " \(number(sample.value))\n"
            }
        }
        return text
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

/// A latency histogram with fixed bucket bounds; each bucket counts the observations at or below its bound
/// (cumulative, as the exposition writes them).
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
