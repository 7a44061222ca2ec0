import SkiffMetrics
import Synchronization

/// The watchdog's own Prometheus metrics on its second listener (:8081, as the OpenFaaS watchdogs), named as
/// of-watchdog names them: `http_requests_total{code,method}`, `http_request_duration_seconds` (histogram) and
/// `http_requests_in_flight`.
final class WatchdogMetrics: Sendable {
    private struct Key: Hashable {
        var code: Int
        var method: String

        var labels: [(String, String)] { [("code", String(code)), ("method", method)] }
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

    func render() -> String {
        let snapshot = state.withLock { $0 }
        let keys = snapshot.total.keys.sorted { ($0.code, $0.method) < ($1.code, $1.method) }
        var out = PrometheusText()
        out.family("http_requests_total", type: "counter", help: "Total HTTP requests handled by the watchdog.")
        for key in keys { out.sample("http_requests_total", key.labels, Double(snapshot.total[key] ?? 0)) }
        out.family("http_request_duration_seconds", type: "histogram", help: "Time taken to answer HTTP requests.")
        for key in keys {
            if let histogram = snapshot.seconds[key] {
                out.histogram("http_request_duration_seconds", key.labels, histogram)
            }
        }
        out.family("http_requests_in_flight", type: "gauge", help: "Requests being answered now.")
        out.sample("http_requests_in_flight", [], Double(snapshot.inFlight))
        return out.text
    }
}
