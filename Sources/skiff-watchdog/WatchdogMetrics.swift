import SkiffMetrics

/// The watchdog's own Prometheus metrics on its second listener (:8081, as the OpenFaaS watchdogs), named as
/// of-watchdog names them: `http_requests_total{code,method}`, `http_request_duration_seconds` (histogram) and
/// `http_requests_in_flight`.
struct WatchdogMetrics: Sendable {
    let registry = MetricsRegistry()
    private let total = CounterFamily(
        "http_requests_total", help: "Total HTTP requests handled by the watchdog.", labelNames: ["code", "method"])
    private let seconds = HistogramFamily(
        "http_request_duration_seconds", help: "Time taken to answer HTTP requests.", labelNames: ["code", "method"])
    private let inFlight = GaugeFamily("http_requests_in_flight", help: "Requests being answered now.")

    init() {
        registry.register(total)
        registry.register(seconds)
        registry.register(inFlight)
        inFlight.set([], to: 0)
    }

    func started() { inFlight.add([], 1) }

    func finished(code: Int, method: String, seconds elapsed: Double) {
        let labels = [String(code), method]
        inFlight.add([], -1)
        total.increment(labels)
        seconds.observe(labels, elapsed)
    }
}
