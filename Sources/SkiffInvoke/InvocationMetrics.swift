import SkiffMetrics
import Synchronization

/// Calls of functions, named and labelled as OpenFaaS names them so that existing dashboards and alert rules work:
/// `gateway_function_invocation_total{function_name,code}`, `gateway_functions_seconds` (histogram) and
/// `gateway_function_invocation_started{function_name}`. Whoever invokes (the gateway's proxy, the asynchronous
/// worker) counts here. One state under one lock, so a call costs two short lock holds.
public final class InvocationMetrics: MetricsCollector {
    private struct Series: Hashable {
        var function: String
        var code: Int

        var labels: [MetricLabel] { [MetricLabel("code", String(code)), MetricLabel("function_name", function)] }
    }

    private struct State {
        var total: [Series: UInt64] = [:]
        var seconds: [Series: PrometheusHistogram] = [:]
        var started: [String: UInt64] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// A call to `function` (`name.namespace`) began.
    public func started(_ function: String) {
        state.withLock { $0.started[function, default: 0] += 1 }
    }

    /// A call ended with `code` after `seconds` (cold-start waiting excluded).
    public func completed(_ function: String, code: Int, seconds: Double) {
        let series = Series(function: function, code: code)
        state.withLock { state in
            state.total[series, default: 0] += 1
            state.seconds[series, default: PrometheusHistogram()].observe(seconds)
        }
    }

    /// Completed calls of `function`, all codes (the list route's `invocationCount`).
    public func invocations(_ function: String) -> Double {
        state.withLock { state in
            Double(state.total.reduce(0) { $0 + ($1.key.function == function ? $1.value : 0) })
        }
    }

    public func collect() async -> [MetricFamily] {
        let snapshot = state.withLock { $0 }
        var total = MetricFamily("gateway_function_invocation_total", .counter, help: "Function metrics")
        for (series, value) in snapshot.total.sorted(by: Self.order) { total.add(series.labels, Double(value)) }
        var seconds = MetricFamily("gateway_functions_seconds", .histogram, help: "Function time taken")
        for (series, histogram) in snapshot.seconds.sorted(by: Self.order) { seconds.add(series.labels, histogram) }
        var started = MetricFamily(
            "gateway_function_invocation_started", .counter, help: "The total number of function HTTP requests started."
        )
        for (function, value) in snapshot.started.sorted(by: { $0.key < $1.key }) {
            started.add([MetricLabel("function_name", function)], Double(value))
        }
        return [total, seconds, started]
    }

    private static func order(_ lhs: (key: Series, value: some Any), _ rhs: (key: Series, value: some Any)) -> Bool {
        (lhs.key.function, lhs.key.code) < (rhs.key.function, rhs.key.code)
    }
}
