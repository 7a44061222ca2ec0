import SkiffMetrics
import Testing

@Suite("Prometheus text exposition and the registry")
struct PrometheusTextTests {
    @Test func familiesSamplesAndHistograms() {
        var histogram = PrometheusHistogram(bounds: [0.1, 1])
        for value in [0.05, 0.5, 2] { histogram.observe(value) }
        var calls = MetricFamily("calls_total", .counter, help: "Calls.")
        calls.add([MetricLabel("fn", "a\"b\\c\nd")], 3)
        var latency = MetricFamily("latency_seconds", .histogram, help: "Latency.")
        latency.add([MetricLabel("fn", "x")], histogram)
        #expect(
            PrometheusText.render([calls, latency]) == """
                # HELP calls_total Calls.
                # TYPE calls_total counter
                calls_total{fn="a\\"b\\\\c\\nd"} 3
                # HELP latency_seconds Latency.
                # TYPE latency_seconds histogram
                latency_seconds_bucket{fn="x",le="0.1"} 1
                latency_seconds_bucket{fn="x",le="1"} 2
                latency_seconds_bucket{fn="x",le="+Inf"} 3
                latency_seconds_sum{fn="x"} 2.55
                latency_seconds_count{fn="x"} 3

                """)
    }

    @Test func theRegistryCollectsEveryFamilyInOrderOfRegistration() async {
        let registry = MetricsRegistry()
        let requests = CounterFamily("requests_total", help: "Requests.", labelNames: ["code", "method"])
        let inFlight = GaugeFamily("in_flight", help: "In flight.")
        let seconds = HistogramFamily("seconds", help: "Seconds.", labelNames: ["code"], bounds: [1])
        registry.register(requests)
        registry.register(inFlight)
        registry.register(seconds)
        requests.increment(["500", "GET"])
        requests.increment(["200", "POST"], by: 2)
        requests.increment(["200", "GET"])
        inFlight.add([], 3)
        inFlight.add([], -1)
        seconds.observe(["200"], 0.5)
        seconds.observe(["200"], 4)

        let families = await registry.collect()
        #expect(families.map(\.name) == ["requests_total", "in_flight", "seconds"])
        #expect(
            families[0].samples.map { "\($0.labels.map(\.value)) \($0.value)" } == [
                "[\"200\", \"GET\"] 1.0", "[\"200\", \"POST\"] 2.0", "[\"500\", \"GET\"] 1.0",
            ])
        #expect(families[1].samples.map(\.value) == [2])
        #expect(
            families[2].samples.map(\.name) == ["seconds_bucket", "seconds_bucket", "seconds_sum", "seconds_count"])
        #expect(families[2].samples.map(\.value) == [1, 2, 4.5, 2])
        #expect(await registry.exposition().contains("requests_total{code=\"200\",method=\"POST\"} 2\n"))
    }

    @Test func processMetricsDescribeThisProcess() async {
        let families = await ProcessMetrics(startTime: 1_700_000_000.4).collect()
        let byName = Dictionary(families.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        #expect((byName["process_resident_memory_bytes"]?.samples.first?.value ?? 0) > 1024 * 1024)
        #expect((byName["process_open_fds"]?.samples.first?.value ?? 0) >= 3)
        #expect(
            (byName["process_max_fds"]?.samples.first?.value ?? 0) >= byName["process_open_fds"]?.samples.first?.value
                ?? 1)
        #expect(byName["process_start_time_seconds"]?.samples.first?.value == 1_700_000_000)
    }

    @Test func callSeriesCountsPerKeyAndWritesBothFamiliesInOrder() {
        var calls = CallSeries<Int>()
        calls.record(500, seconds: 0.5)
        calls.record(200, seconds: 0.001)
        calls.record(200, seconds: 20)
        #expect(calls.count { $0 == 200 } == 2 && calls.count { _ in true } == 3)
        let families = calls.families(
            count: "calls_total", countHelp: "Calls.", seconds: "calls_seconds", secondsHelp: "Seconds.",
            labels: { [MetricLabel("code", String($0))] }, order: <)
        #expect(families.map(\.name) == ["calls_total", "calls_seconds"])
        #expect(families[0].samples.map(\.value) == [2, 1])
        let counts = families[1].samples.filter { $0.name == "calls_seconds_count" }.map(\.value)
        #expect(counts == [2, 1])
    }
}
