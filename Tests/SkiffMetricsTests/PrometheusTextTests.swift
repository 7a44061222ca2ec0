import SkiffMetrics
import Testing

@Suite("Prometheus text exposition")
struct PrometheusTextTests {
    @Test func familiesSamplesAndHistograms() {
        var histogram = PrometheusHistogram(bounds: [0.1, 1])
        for value in [0.05, 0.5, 2] { histogram.observe(value) }
        var out = PrometheusText()
        out.family("calls_total", type: "counter", help: "Calls.")
        out.sample("calls_total", [("fn", "a\"b\\c\nd")], 3)
        out.histogram("latency_seconds", [("fn", "x")], histogram)
        #expect(
            out.text == """
                # HELP calls_total Calls.
                # TYPE calls_total counter
                calls_total{fn="a\\"b\\\\c\\nd"} 3
                latency_seconds_bucket{fn="x",le="0.1"} 1
                latency_seconds_bucket{fn="x",le="1"} 2
                latency_seconds_bucket{fn="x",le="+Inf"} 3
                latency_seconds_sum{fn="x"} 2.55
                latency_seconds_count{fn="x"} 3

                """)
    }
}
