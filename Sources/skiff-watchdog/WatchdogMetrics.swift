import Synchronization

/// The watchdog's own Prometheus metrics on its second listener (:8081, as the OpenFaaS watchdogs), named as
/// of-watchdog names them: `http_requests_total{code,method}`, `http_request_duration_seconds` (histogram) and
/// `http_requests_in_flight`.
final class WatchdogMetrics: Sendable {
    private static let buckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private struct Key: Hashable {
        var code: Int
        var method: String
    }

    private struct State {
        var total: [Key: UInt64] = [:]
        var counts: [Key: [UInt64]] = [:]
        var sums: [Key: Double] = [:]
        var inFlight = 0
    }

    private let state = Mutex(State())

    func started() { state.withLock { $0.inFlight += 1 } }

    func finished(code: Int, method: String, seconds: Double) {
        let key = Key(code: code, method: method)
        state.withLock { state in
            state.inFlight -= 1
            state.total[key, default: 0] += 1
            var counts = state.counts[key] ?? [UInt64](repeating: 0, count: Self.buckets.count)
            for (index, bound) in Self.buckets.enumerated() where seconds <= bound { counts[index] += 1 }
            state.counts[key] = counts
            state.sums[key, default: 0] += seconds
        }
    }

    func render() -> String {
        let snapshot = state.withLock { $0 }
        let keys = snapshot.total.keys.sorted { ($0.code, $0.method) < ($1.code, $1.method) }
        var out = "# HELP http_requests_total Total HTTP requests handled by the watchdog.\n"
        out += "# TYPE http_requests_total counter\n"
        for key in keys {
            out += "http_requests_total{code=\"\(key.code)\",method=\"\(key.method)\"} \(snapshot.total[key] ?? 0)\n"
        }
        out += "# HELP http_request_duration_seconds Time taken to answer HTTP requests.\n"
        out += "# TYPE http_request_duration_seconds histogram\n"
        for key in keys {
            let labels = "code=\"\(key.code)\",method=\"\(key.method)\""
            let counts = snapshot.counts[key] ?? []
            for (index, bound) in Self.buckets.enumerated() where index < counts.count {
                out += "http_request_duration_seconds_bucket{\(labels),le=\"\(bound)\"} \(counts[index])\n"
            }
            out += "http_request_duration_seconds_bucket{\(labels),le=\"+Inf\"} \(snapshot.total[key] ?? 0)\n"
            out += "http_request_duration_seconds_sum{\(labels)} \(snapshot.sums[key] ?? 0)\n"
            out += "http_request_duration_seconds_count{\(labels)} \(snapshot.total[key] ?? 0)\n"
        }
        out += "# HELP http_requests_in_flight Requests being answered now.\n"
        out += "# TYPE http_requests_in_flight gauge\n"
        out += "http_requests_in_flight \(snapshot.inFlight)\n"
        return out
    }
}
