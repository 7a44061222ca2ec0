import Foundation

/// PromQL's functions with Prometheus 2.42's semantics.
extension Evaluation {
    func call(_ name: String, _ arguments: [PromQLExpression], at time: Int64) throws(PromQLEvaluationError)
        -> PromQLValue
    {
        let value = try callUnchecked(name, arguments, at: time)
        if case .vector(let elements) = value, !Self.keepsLabelsDistinct(name, arguments) {
            try Self.requireDistinctLabels(elements)
        }
        return value
    }

    /// Whether the result is known to be distinct without looking: a function that at most drops the metric name,
    /// applied to one metric's series (a selector naming it), cannot make two label sets equal. Checking every
    /// element of every step of a range query took a sixth of its time.
    static func keepsLabelsDistinct(_ name: String, _ arguments: [PromQLExpression]) -> Bool {
        guard name != "label_replace", name != "label_join", let first = arguments.first else { return false }
        switch first {
        case .vector(let selector), .matrix(let selector, _): return selector.name != nil
        default: return false
        }
    }

    /// Dropping the metric name can leave two elements with one label set: Prometheus refuses that result.
    static func requireDistinctLabels(_ elements: [VectorElement]) throws(PromQLEvaluationError) {
        var seen: Set<Labels> = []
        for element in elements where !seen.insert(element.labels).inserted {
            throw PromQLEvaluationError("vector cannot contain metrics with the same labelset")
        }
    }

    private func callUnchecked(_ name: String, _ arguments: [PromQLExpression], at time: Int64)
        throws(PromQLEvaluationError) -> PromQLValue
    {
        var values: [PromQLValue] = []
        for argument in arguments { values.append(try evaluate(argument, at: time)) }
        if let function = Self.elementwise[name] {
            return .vector(
                try vector(values[0]).map { VectorElement(labels: $0.labels.droppingName, value: function($0.value)) })
        }
        if let function = Self.overTime[name] {
            return .vector(
                try matrix(values[0]).compactMap { series in
                    guard let value = function(series.samples) else { return nil }
                    return VectorElement(labels: series.labels.droppingName, value: value)
                })
        }
        switch name {
        case "time": return .scalar(Double(time) / 1_000)
        case "pi": return .scalar(.pi)
        case "vector": return .vector([VectorElement(labels: Labels([:]), value: try scalar(values[0]))])
        case "scalar":
            let elements = try vector(values[0])
            return .scalar(elements.count == 1 ? elements[0].value : .nan)
        case "rate", "increase", "delta":
            let range = Self.range(of: arguments[0])
            // The window's end is the same for every series: found once, not once per series.
            let rangeEnd = referenceTime(Self.modifiers(of: arguments[0]), at: time)
            let (counter, rate) = (name != "delta", name == "rate")
            return .vector(
                try matrix(values[0]).compactMap { series in
                    Self.extrapolatedRate(series, range: range, end: rangeEnd, counter: counter, rate: rate)
                        .map { VectorElement(labels: series.labels.droppingName, value: $0) }
                })
        case "irate", "idelta":
            return .vector(
                try matrix(values[0]).compactMap { series in
                    Self.instantRate(series.samples, rate: name == "irate")
                        .map { VectorElement(labels: series.labels.droppingName, value: $0) }
                })
        case "last_over_time":
            return .vector(
                try matrix(values[0]).compactMap { series in
                    series.samples.last.map { VectorElement(labels: series.labels, value: $0.value) }
                })
        case "quantile_over_time":
            let phi = try scalar(values[0])
            return .vector(
                try matrix(values[1]).map {
                    VectorElement(labels: $0.labels.droppingName, value: Self.quantile(phi, $0.samples.map(\.value)))
                })
        case "deriv":
            return .vector(
                try matrix(values[0]).compactMap { series in
                    guard series.samples.count >= 2 else { return nil }
                    return VectorElement(
                        labels: series.labels.droppingName,
                        value: Self.regression(series.samples, at: series.samples[series.samples.startIndex].timestamp)
                            .slope)
                })
        case "predict_linear":
            let seconds = try scalar(values[1])
            return .vector(
                try matrix(values[0]).compactMap { series in
                    guard series.samples.count >= 2 else { return nil }
                    let (slope, intercept) = Self.regression(series.samples, at: time)
                    return VectorElement(labels: series.labels.droppingName, value: intercept + slope * seconds)
                })
        case "holt_winters":
            let (smoothing, trend) = (try scalar(values[1]), try scalar(values[2]))
            guard smoothing > 0 && smoothing < 1 else {
                throw PromQLEvaluationError(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: \(NumberText.plain(smoothing))")
            }
            guard trend > 0 && trend < 1 else {
                throw PromQLEvaluationError(
                    "invalid trend factor. Expected: 0 < tf < 1, got: \(NumberText.plain(trend))")
            }
            return .vector(
                try matrix(values[0]).compactMap { series in
                    Self.holtWinters(series.samples.map(\.value), smoothing, trend)
                        .map { VectorElement(labels: series.labels.droppingName, value: $0) }
                })
        case "absent":
            guard try vector(values[0]).isEmpty else { return .vector([]) }
            return .vector([VectorElement(labels: Self.absentLabels(arguments[0]), value: 1)])
        case "absent_over_time":
            guard try matrix(values[0]).isEmpty else { return .vector([]) }
            return .vector([VectorElement(labels: Self.absentLabels(arguments[0]), value: 1)])
        case "timestamp":
            return .vector(
                try vector(values[0]).map {
                    VectorElement(labels: $0.labels.droppingName, value: Double($0.sampleTime ?? time) / 1_000)
                })
        case "sort", "sort_desc":
            let descending = name == "sort_desc"
            return .vector(
                try vector(values[0]).sorted { a, b in
                    if a.value.isNaN != b.value.isNaN { return b.value.isNaN }
                    return descending ? a.value > b.value : a.value < b.value
                })
        case "round":
            let nearest = values.count > 1 ? try scalar(values[1]) : 1
            let inverse = 1 / nearest
            return .vector(
                try vector(values[0]).map {
                    VectorElement(
                        labels: $0.labels.droppingName, value: ($0.value * inverse + 0.5).rounded(.down) / inverse)
                })
        case "clamp", "clamp_min", "clamp_max":
            let low = name == "clamp_max" ? -.infinity : try scalar(values[1])
            let high = name == "clamp" ? try scalar(values[2]) : name == "clamp_max" ? try scalar(values[1]) : .infinity
            if name == "clamp" && high < low { return .vector([]) }
            // Go's math.Max and math.Min: NaN wins.
            let bounded = { (value: Double) in
                low.isNaN || high.isNaN || value.isNaN ? Double.nan : Swift.max(low, Swift.min(high, value))
            }
            return .vector(
                try vector(values[0]).map {
                    VectorElement(labels: $0.labels.droppingName, value: bounded($0.value))
                })
        case "histogram_quantile":
            return .vector(Self.histogramQuantile(try scalar(values[0]), try vector(values[1])))
        case "label_replace":
            return .vector(try labelReplace(try vector(values[0]), values))
        case "label_join":
            return .vector(try labelJoin(try vector(values[0]), values))
        case "day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year":
            let elements =
                values.isEmpty
                ? [VectorElement(labels: Labels([:]), value: Double(time) / 1_000)] : try vector(values[0])
            return .vector(
                elements.map {
                    VectorElement(labels: $0.labels.droppingName, value: Self.datePart(name, $0.value))
                })
        default:
            throw PromQLEvaluationError("function \"\(name)\" is not implemented")
        }
    }

    static let elementwise: [String: @Sendable (Double) -> Double] = [
        "abs": { abs($0) }, "ceil": { $0.rounded(.up) }, "floor": { $0.rounded(.down) }, "exp": { Foundation.exp($0) },
        "sqrt": { $0.squareRoot() }, "ln": { Foundation.log($0) }, "log2": { Foundation.log2($0) },
        "log10": { Foundation.log10($0) }, "sgn": { $0 > 0 ? 1 : $0 < 0 ? -1 : $0 },
        "acos": { Foundation.acos($0) }, "acosh": { Foundation.acosh($0) }, "asin": { Foundation.asin($0) },
        "asinh": { Foundation.asinh($0) }, "atan": { Foundation.atan($0) }, "atanh": { Foundation.atanh($0) },
        "cos": { Foundation.cos($0) }, "cosh": { Foundation.cosh($0) }, "sin": { Foundation.sin($0) },
        "sinh": { Foundation.sinh($0) }, "tan": { Foundation.tan($0) }, "tanh": { Foundation.tanh($0) },
        "deg": { $0 * 180 / .pi }, "rad": { $0 * .pi / 180 },
    ]

    static let overTime: [String: @Sendable (ArraySlice<Sample>) -> Double?] = [
        "avg_over_time": { mean($0.map(\.value)) }, "sum_over_time": { $0.reduce(0) { $0 + $1.value } },
        "count_over_time": { Double($0.count) },
        "min_over_time": { samples in
            samples.dropFirst().reduce(samples[samples.startIndex].value) { $0 > $1.value || $0.isNaN ? $1.value : $0 }
        },
        "max_over_time": { samples in
            samples.dropFirst().reduce(samples[samples.startIndex].value) { $0 < $1.value || $0.isNaN ? $1.value : $0 }
        },
        "stddev_over_time": { variance($0.map(\.value)).squareRoot() },
        "stdvar_over_time": { variance($0.map(\.value)) },
        "present_over_time": { _ in 1 },
        "resets": { samples in Double(zip(samples, samples.dropFirst()).filter { $1.value < $0.value }.count) },
        "changes": { samples in
            Double(
                zip(samples, samples.dropFirst()).filter {
                    !($0.value == $1.value || ($0.value.isNaN && $1.value.isNaN))
                }.count)
        },
    ]

    /// The range of a range-vector argument (a selector's or a subquery's), in milliseconds.
    static func range(of argument: PromQLExpression) -> Int64 {
        switch argument {
        case .matrix(_, let range), .subquery(_, let range, _, _): range
        case .parenthesised(let inner): range(of: inner)
        default: 0
        }
    }

    static func modifiers(of argument: PromQLExpression) -> TimeModifiers {
        switch argument {
        case .matrix(let selector, _): selector.modifiers
        case .subquery(_, _, _, let modifiers): modifiers
        case .parenthesised(let inner): modifiers(of: inner)
        default: TimeModifiers()
        }
    }

    /// `rate`, `increase` and `delta`: Prometheus 2.42's extrapolation to the window's edges.
    static func extrapolatedRate(_ series: RangeSeries, range: Int64, end rangeEnd: Int64, counter: Bool, rate: Bool)
        -> Double?
    {
        let samples = series.samples
        guard samples.count >= 2, let first = samples.first, let last = samples.last else { return nil }
        let rangeStart = rangeEnd - range
        var delta = last.value - first.value
        // A window in which the counter never decreases needs no walk (Prometheus walks it; the sum is the same).
        if counter && series.mayReset {
            var previous = first.value
            for sample in samples.dropFirst() {
                if sample.value < previous { delta += previous }
                previous = sample.value
            }
        }
        let sampled = Double(last.timestamp - first.timestamp) / 1_000
        var toStart = Double(first.timestamp - rangeStart) / 1_000
        let toEnd = Double(rangeEnd - last.timestamp) / 1_000
        let averageStep = sampled / Double(samples.count - 1)
        if counter && delta > 0 && first.value >= 0 {
            toStart = min(toStart, sampled * (first.value / delta))
        }
        let threshold = averageStep * 1.1
        var span = sampled
        span += toStart < threshold ? toStart : averageStep / 2
        span += toEnd < threshold ? toEnd : averageStep / 2
        // The factor first, then one multiplication, in Prometheus's order: its answers are equal to the last bit.
        var factor = span / sampled
        if rate { factor /= Double(range) / 1_000 }
        return delta * factor
    }

    static func instantRate(_ samples: ArraySlice<Sample>, rate: Bool) -> Double? {
        guard samples.count >= 2 else { return nil }
        let last = samples[samples.endIndex - 1]
        let previous = samples[samples.endIndex - 2]
        var value = last.value - previous.value
        if rate && last.value < previous.value { value = last.value }
        guard rate else { return value }
        let seconds = Double(last.timestamp - previous.timestamp) / 1_000
        guard seconds != 0 else { return nil }
        return value / seconds
    }

    /// Least squares over (seconds since `origin`, value): slope and the value at `origin`.
    static func regression(_ samples: ArraySlice<Sample>, at origin: Int64) -> (slope: Double, intercept: Double) {
        let initial = samples[samples.startIndex].value
        if samples.allSatisfy({ $0.value == initial }) {
            return initial.isInfinite ? (.nan, .nan) : (0, initial)
        }
        var (n, sumX, sumY, sumXY, sumX2) = (0.0, 0.0, 0.0, 0.0, 0.0)
        for sample in samples {
            let x = Double(sample.timestamp - origin) / 1_000
            n += 1
            sumX += x
            sumY += sample.value
            sumXY += x * sample.value
            sumX2 += x * x
        }
        let covariance = sumXY - sumX * sumY / n
        let variance = sumX2 - sumX * sumX / n
        let slope = covariance / variance
        return (slope, sumY / n - slope * sumX / n)
    }

    static func holtWinters(_ values: [Double], _ smoothing: Double, _ trendFactor: Double) -> Double? {
        guard values.count >= 2 else { return nil }
        var smoothed = values[0]
        var trend = values[1] - values[0]
        var previous = smoothed
        for index in 1..<values.count {
            if index > 1 { trend = trendFactor * (smoothed - previous) + (1 - trendFactor) * trend }
            previous = smoothed
            smoothed = smoothing * values[index] + (1 - smoothing) * (previous + trend)
        }
        return smoothed
    }

    /// The labels `absent` reports: the selector's equality matchers, less any label named by another matcher
    /// too (Prometheus's `createLabelsForAbsentFunction`).
    static func absentLabels(_ argument: PromQLExpression) -> Labels {
        let selector: VectorSelector?
        switch argument {
        case .vector(let given), .matrix(let given, _): selector = given
        default: selector = nil
        }
        var pairs: [String: String] = [:]
        var dropped: Set<String> = []
        for matcher in selector?.matchers ?? [] where matcher.name != Labels.metricName {
            if matcher.kind == .equal && pairs[matcher.name] == nil {
                pairs[matcher.name] = matcher.value
            } else {
                dropped.insert(matcher.name)
            }
        }
        for name in dropped { pairs[name] = nil }
        return Labels(pairs)
    }

    static func datePart(_ name: String, _ seconds: Double) -> Double {
        guard seconds.isFinite else { return .nan }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let date = Date(timeIntervalSince1970: seconds.rounded(.down))
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .weekday], from: date)
        switch name {
        case "day_of_month": return Double(parts.day ?? 0)
        case "day_of_week": return Double((parts.weekday ?? 1) - 1)
        case "day_of_year": return Double(calendar.ordinality(of: .day, in: .year, for: date) ?? 0)
        case "days_in_month": return Double(calendar.range(of: .day, in: .month, for: date)?.count ?? 0)
        case "hour": return Double(parts.hour ?? 0)
        case "minute": return Double(parts.minute ?? 0)
        case "month": return Double(parts.month ?? 0)
        default: return Double(parts.year ?? 0)
        }
    }
}
