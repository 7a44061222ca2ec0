import SkiffMetrics
import Synchronization

/// The watchdog's own Prometheus metrics on its second listener (:8081, as the OpenFaaS watchdogs), named as
/// of-watchdog names them: `http_requests_total{code,method}`, `http_request_duration_seconds` (histogram) and
/// `http_requests_in_flight`. A collector of its own rather than three families: every call updates all three,
/// which here is one short lock hold with no allocation.
final class WatchdogMetrics: MetricsCollector {
    private struct Key: Hashable {
        var code: Int
        var method: String

        var labels: [MetricLabel] { [MetricLabel("code", String(code)), MetricLabel("method", method)] }
    }

    private struct State {
        var total: [Key: UInt64] = [:]
        var seconds: [Key: PrometheusHistogram] = [:]
        var inFlight = 0
    }

    private let state = Mutex(State())

    func started() { state.withLock { $0.inFlight += 1 } }

    func finished(code: Int, method: String, seconds: Double) {
        let key = Key(code: code, method: method)
        state.withLock { state in
            state.inFlight -= 1
            state.total[key, default: 0] += 1
            state.seconds[key, default: PrometheusHistogram()].observe(seconds)
        }
    }

    func collect() async -> [MetricFamily] {
        let snapshot = state.withLock { $0 }
        let keys = snapshot.total.keys.sorted { ($0.code, $0.method) < ($1.code, $1.method) }
        var total = MetricFamily(
            "http_requests_total", .counter, help: "Total HTTP requests handled by the watchdog.")
        var seconds = MetricFamily(
            "http_request_duration_seconds", .histogram, help: "Time taken to answer HTTP requests.")
        for key in keys {
            total.add(key.labels, Double(snapshot.total[key] ?? 0))
            if let histogram = snapshot.seconds[key] { seconds.add(key.labels, histogram) }
        }
        let inFlight = MetricFamily.single(
            "http_requests_in_flight", .gauge, help: "Requests being answered now.", Double(snapshot.inFlight))
        return [total, seconds, inFlight]
    }
}
