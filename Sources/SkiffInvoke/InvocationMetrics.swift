import SkiffMetrics
import Synchronization

/// Calls of functions, named and labelled as OpenFaaS names them so that existing dashboards and alert rules work:
/// `gateway_function_invocation_total{function_name,code}`, `gateway_functions_seconds` (histogram) and
/// `gateway_function_invocation_started{function_name}`. Whoever invokes (the gateway's proxy, the asynchronous
/// worker) counts here. One state under one lock, so a call costs two short lock holds.
public final class InvocationMetrics: MetricsCollector {
    private struct Series: Hashable, Sendable {
        var function: String
        var code: Int
    }

    private struct State {
        var calls = CallSeries<Series>()
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
        state.withLock { $0.calls.record(series, seconds: seconds) }
    }

    /// Calls of `function` that ended with `code` before this process began (the daemon reads them back from its
    /// metrics store at start), so that counts and the list's `invocationCount` survive a restart.
    public func carry(_ function: String, code: Int, count: UInt64) {
        state.withLock { $0.calls.carry(Series(function: function, code: code), count: count) }
    }

    /// Completed calls of `function`, all codes (the list route's `invocationCount`).
    public func invocations(_ function: String) -> Double {
        Double(state.withLock { $0.calls.count { $0.function == function } })
    }

    public func collect() async -> [MetricFamily] {
        let snapshot = state.withLock { $0 }
        var started = MetricFamily(
            "gateway_function_invocation_started", .counter, help: "The total number of function HTTP requests started."
        )
        for (function, value) in snapshot.started.sorted(by: { $0.key < $1.key }) {
            started.add([MetricLabel("function_name", function)], Double(value))
        }
        let calls = snapshot.calls.families(
            count: "gateway_function_invocation_total", countHelp: "Function metrics",
            seconds: "gateway_functions_seconds", secondsHelp: "Function time taken",
            labels: { [MetricLabel("code", String($0.code)), MetricLabel("function_name", $0.function)] },
            order: { ($0.function, $0.code) < ($1.function, $1.code) })
        return calls + [started]
    }
}
