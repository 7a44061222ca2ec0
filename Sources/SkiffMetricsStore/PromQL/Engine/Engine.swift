/// Evaluates PromQL over a ``SeriesSource`` with Prometheus 2.42's semantics: instant queries at one time, range
/// queries as instant queries at every step (each series' points gathered by label set).
public struct PromQLEngine: Sendable {
    public private(set) var source: any SeriesSource
    /// How far back an instant selector looks for a series' latest sample (Prometheus's default, 5 minutes).
    public var lookback: Int64 = 300_000
    /// A subquery's step when it names none (Prometheus's default evaluation interval, 1 minute).
    public var defaultSubqueryStep: Int64 = 60_000
    /// When an evaluation gives up (checked at every step and every read of the store); nil: never.
    public var deadline: ContinuousClock.Instant?
    /// Samples one query may read, all its selectors together (Prometheus's `--query.max-samples` bounds what a
    /// query holds at once; here what it reads: 20 million samples are 320 MB, a day's dashboard of 1,000 series
    /// at 5 s is 17 million). `--metrics-query-max-samples` sets it.
    public var maximumSamples = 20_000_000

    /// Points per series of a range query, as Prometheus bounds them.
    static let maximumPoints: Int64 = 11_000
    /// Steps of one subquery: far beyond a dashboard's (a day at 5 s is 17,280), short of a query that would
    /// evaluate for hours.
    static let maximumSubquerySteps: Int64 = 100_000

    public init(source: any SeriesSource) {
        self.source = source
    }

    public func instant(_ expression: PromQLExpression, at time: Int64) throws(PromQLEvaluationError) -> PromQLValue {
        // Subqueries evaluate at many steps too; the cache serves them as it serves range queries.
        try Evaluation(engine: caching(span: Self.subquerySpan(expression)), start: time, end: time)
            .evaluate(expression, at: time)
    }

    /// How far subqueries move the evaluation time back, nested ones added up.
    static func subquerySpan(_ expression: PromQLExpression) -> Int64 {
        switch expression {
        case .number, .string, .vector, .matrix: return 0
        case .subquery(let inner, let range, _, _):
            let (sum, overflow) = range.addingReportingOverflow(subquerySpan(inner))
            return overflow ? .max : sum
        case .call(_, let arguments): return arguments.map(subquerySpan).max() ?? 0
        case .aggregate(let aggregation):
            return max(subquerySpan(aggregation.expression), aggregation.parameter.map(subquerySpan) ?? 0)
        case .binary(let binary): return max(subquerySpan(binary.lhs), subquerySpan(binary.rhs))
        case .negate(let inner), .parenthesised(let inner): return subquerySpan(inner)
        }
    }

    /// This engine reading through a cache for one query whose evaluation time moves over `span`.
    func caching(span: Int64) -> PromQLEngine {
        var engine = self
        engine.source = SelectionCache(source: source, span: span, limit: maximumSamples)
        return engine
    }

    /// A range query: only scalar and instant-vector expressions; a scalar comes back as one series without labels.
    public func range(_ expression: PromQLExpression, start: Int64, end: Int64, step: Int64)
        throws(PromQLEvaluationError) -> [RangeSeries]
    {
        guard expression.type == .scalar || expression.type == .vector else {
            throw PromQLEvaluationError(
                "invalid expression type \"\(Parser.typeName(expression.type))\" for range query, must be Scalar or "
                    + "instant Vector")
        }
        guard step > 0 else {
            throw PromQLEvaluationError("zero or negative query resolution step widths are not accepted")
        }
        guard end >= start, (end - start) / step <= Self.maximumPoints else {
            throw PromQLEvaluationError(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution "
                    + "(?step=XX)")
        }
        let span = (end - start).addingReportingOverflow(Self.subquerySpan(expression))
        return try Evaluation(engine: caching(span: span.overflow ? .max : span.partialValue), start: start, end: end)
            .steps(
                expression, from: start, through: end, step: step)
    }
}

/// One query's evaluation: the query's own start and end (what `@ start()` and `@ end()` mean).
struct Evaluation {
    let engine: PromQLEngine
    let start: Int64
    let end: Int64

    func evaluate(_ expression: PromQLExpression, at time: Int64) throws(PromQLEvaluationError) -> PromQLValue {
        switch expression {
        case .number(let value): return .scalar(value)
        case .string(let text): return .string(text)
        case .parenthesised(let inner): return try evaluate(inner, at: time)
        case .negate(let inner):
            switch try evaluate(inner, at: time) {
            case .scalar(let value): return .scalar(-value)
            case .vector(let elements):
                let negated = elements.map { VectorElement(labels: $0.labels.droppingName, value: -$0.value) }
                try Self.requireDistinctLabels(negated)
                return .vector(negated)
            default: throw PromQLEvaluationError("unary minus on a value that is neither scalar nor vector")
            }
        case .vector(let selector):
            return .vector(try instantSelect(selector, at: time))
        case .matrix(let selector, let range):
            return .matrix(try rangeSelect(selector, range: range, at: time))
        case .subquery(let inner, let range, let step, let modifiers):
            return .matrix(try subquery(inner, range: range, step: step, modifiers: modifiers, at: time))
        case .call(let name, let arguments):
            return try call(name, arguments, at: time)
        case .aggregate(let aggregation):
            return .vector(try aggregate(aggregation, at: time))
        case .binary(let binary):
            return try evaluateBinary(binary, at: time)
        }
    }

    /// The time a selector or subquery reads at: pinned by `@`, moved back by `offset`.
    func referenceTime(_ modifiers: TimeModifiers, at time: Int64) -> Int64 {
        let base: Int64
        switch modifiers.at {
        case .time(let pinned): base = pinned
        case .start: base = start
        case .end: base = end
        case nil: base = time
        }
        return base - modifiers.offset
    }

    /// Each series' newest sample within the lookback, unless it is a staleness marker.
    func instantSelect(_ selector: VectorSelector, at time: Int64) throws(PromQLEvaluationError) -> [VectorElement] {
        try checkDeadline()
        let reference = referenceTime(selector.modifiers, at: time)
        return try engine.source.newest(selector.matchers, from: reference - engine.lookback, through: reference)
            .compactMap { series in
                guard let last = series.samples.last, last.value.bitPattern != Sample.staleNaN.bitPattern else {
                    return nil
                }
                return VectorElement(labels: series.labels, value: last.value, sampleTime: last.timestamp)
            }
    }

    /// Every sample in `[t − range, t]` but staleness markers; series without any are left out.
    func rangeSelect(_ selector: VectorSelector, range: Int64, at time: Int64) throws(PromQLEvaluationError)
        -> [RangeSeries]
    {
        try checkDeadline()
        let reference = referenceTime(selector.modifiers, at: time)
        return try engine.source.windows(selector.matchers, from: reference - range, through: reference).compactMap {
            let stale = Sample.staleNaN.bitPattern
            // Most windows hold no marker: no copy then (and the reset index still fits their indices).
            guard $0.mayHoldStale && $0.samples.contains(where: { $0.value.bitPattern == stale }) else {
                return $0.samples.isEmpty ? nil : RangeSeries(labels: $0.labels, samples: $0.samples, resets: $0.resets)
            }
            let samples = $0.samples.filter { $0.value.bitPattern != stale }[...]
            return samples.isEmpty ? nil : RangeSeries(labels: $0.labels, samples: samples)
        }
    }

    /// The inner expression at every multiple of the step within `[t − range, t]`.
    func subquery(
        _ inner: PromQLExpression, range: Int64, step given: Int64, modifiers: TimeModifiers, at time: Int64
    ) throws(PromQLEvaluationError) -> [RangeSeries] {
        let step = given > 0 ? given : engine.defaultSubqueryStep
        let reference = referenceTime(modifiers, at: time)
        guard range / step <= PromQLEngine.maximumSubquerySteps else {
            throw PromQLEvaluationError(
                "the subquery would take more than \(PromQLEngine.maximumSubquerySteps) steps: use a longer step")
        }
        var first = Self.floorDivide(reference - range, step) * step
        if first < reference - range { first += step }
        return try steps(inner, from: first, through: reference, step: step)
    }

    /// The expression at every step from `first` through `last`, each series' points gathered by its labels (a
    /// scalar's under no labels), series in label order: a range query's result, and a subquery's.
    func steps(_ expression: PromQLExpression, from first: Int64, through last: Int64, step: Int64)
        throws(PromQLEvaluationError) -> [RangeSeries]
    {
        var series: [Labels: [Sample]] = [:]
        var time = first
        while time <= last {
            try checkDeadline()
            switch try evaluate(expression, at: time) {
            case .scalar(let value): series[Labels([:]), default: []].append(Sample(timestamp: time, value: value))
            case .vector(let elements):
                for element in elements {
                    series[element.labels, default: []].append(Sample(timestamp: time, value: element.value))
                }
            default: break
            }
            time += step
        }
        return series.map { RangeSeries(labels: $0.key, samples: $0.value[...]) }.sorted { $0.labels < $1.labels }
    }

    func checkDeadline() throws(PromQLEvaluationError) {
        if let deadline = engine.deadline, ContinuousClock.now >= deadline {
            throw PromQLEvaluationError("query timed out in expression evaluation", timedOut: true)
        }
    }

    static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }

    /// The value as an instant vector, or why it is not one.
    func vector(_ value: PromQLValue) throws(PromQLEvaluationError) -> [VectorElement] {
        guard case .vector(let elements) = value else { throw PromQLEvaluationError("expected an instant vector") }
        return elements
    }

    func scalar(_ value: PromQLValue) throws(PromQLEvaluationError) -> Double {
        guard case .scalar(let number) = value else { throw PromQLEvaluationError("expected a scalar") }
        return number
    }

    func matrix(_ value: PromQLValue) throws(PromQLEvaluationError) -> [RangeSeries] {
        guard case .matrix(let series) = value else { throw PromQLEvaluationError("expected a range vector") }
        return series
    }
}
