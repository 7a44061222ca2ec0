import SkiffMetrics
import Synchronization

/// The watchdog's own Prometheus metrics on its second listener (:8081, as the OpenFaaS watchdogs), named as
/// of-watchdog names them: `http_requests_total{code,method}`, `http_request_duration_seconds` (histogram) and
/// `http_requests_in_flight`. A collector of its own rather than three families: every call updates all three,
/// which here is one short lock hold with no allocation.
final class WatchdogMetrics: MetricsCollector {
    private struct Key: Hashable, Sendable {
        var code: Int
        var method: String
    }

    private struct State {
        var calls = CallSeries<Key>()
        var inFlight = 0
    }

    private let state = Mutex(State())

    func started() { state.withLock { $0.inFlight += 1 } }

    func finished(code: Int, method: String, seconds: Double) {
        let key = Key(code: code, method: method)
        state.withLock { state in
            state.inFlight -= 1
            state.calls.record(key, seconds: seconds)
        }
    }

    func collect() async -> [MetricFamily] {
        let snapshot = state.withLock { $0 }
        let calls = snapshot.calls.families(
            count: "http_requests_total", countHelp: "Total HTTP requests handled by the watchdog.",
            seconds: "http_request_duration_seconds", secondsHelp: "Time taken to answer HTTP requests.",
            labels: { [MetricLabel("code", String($0.code)), MetricLabel("method", $0.method)] },
            order: { ($0.code, $0.method) < ($1.code, $1.method) })
        let inFlight = MetricFamily.single(
            "http_requests_in_flight", .gauge, help: "Requests being answered now.", Double(snapshot.inFlight))
        return calls + [inFlight]
    }
}
