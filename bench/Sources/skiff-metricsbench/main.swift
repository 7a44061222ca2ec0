import Foundation
import Glibc
// What bench/metrics measures Skiff's metrics store with, against Prometheus on the same data
// (../shared/spec/prometheus.md §7): the "OpenFaaS mix" of 1,000 series, as OpenMetrics text for promtool and
// straight into a store; the store served on /api/v1; an exporter of the same series for live scraping; and a
// store that scrapes it. Not shipped.
import SkiffHTTP
import SkiffLog
import SkiffMetrics
import SkiffMetricsStore
import SkiffPOSIX
import Synchronization

/// The mix, second by second: 100 functions × 2 codes of integer Poisson counters (0–20 a second), 50 histograms
/// of 12 buckets with a float `_sum` and a `_count`, 100 gauges that change now and then. Deterministic.
struct OpenFaaSMix {
    static let buckets = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
    static let bounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, .infinity]

    struct Series {
        let name: String
        let labels: [(String, String)]
    }

    private var state: UInt64 = 42
    private var rates: [Double] = []
    private var counters: [Double]
    private var histogramRates: [Double] = []
    private var bucketCounts: [[Double]]
    private var sums: [Double]
    private var gauges: [Double]
    let series: [Series]

    init() {
        var series: [Series] = []
        for function in 0..<100 {
            for code in ["200", "500"] {
                series.append(
                    Series(
                        name: "gateway_function_invocation_total",
                        labels: [("code", code), ("function_name", Self.function(function))]))
            }
        }
        for function in 0..<50 {
            let labels = [("code", "200"), ("function_name", Self.function(function))]
            for bucket in Self.buckets {
                series.append(Series(name: "gateway_functions_seconds_bucket", labels: labels + [("le", bucket)]))
            }
            series.append(Series(name: "gateway_functions_seconds_sum", labels: labels))
            series.append(Series(name: "gateway_functions_seconds_count", labels: labels))
        }
        for function in 0..<100 {
            series.append(Series(name: "gateway_service_count", labels: [("function_name", Self.function(function))]))
        }
        self.series = series
        counters = Array(repeating: 0, count: 200)
        bucketCounts = Array(repeating: Array(repeating: 0, count: 12), count: 50)
        sums = Array(repeating: 0, count: 50)
        gauges = Array(repeating: 1, count: 100)
        rates = (0..<200).map { _ in 0 }
        histogramRates = (0..<50).map { _ in 0 }
        rates = rates.map { _ in uniform() * 20 }
        histogramRates = histogramRates.map { _ in uniform() * 20 }
        gauges = gauges.map { _ in Double(1 + Int(uniform() * 4)) }
    }

    static func function(_ number: Int) -> String {
        "fn-" + String(repeating: "0", count: 3 - String(number).count) + String(number) + ".openfaas-fn"
    }

    private mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state ^ (state >> 29)
    }

    private mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }

    private mutating func poisson(_ lambda: Double) -> Int {
        let limit = exp(-lambda)
        var product = uniform()
        var count = 0
        while product > limit {
            count += 1
            product *= uniform()
        }
        return count
    }

    /// Every series' value after one more second, in the order of `series`.
    mutating func step() -> [Double] {
        var values: [Double] = []
        values.reserveCapacity(series.count)
        for index in 0..<200 {
            counters[index] += Double(poisson(rates[index]))
            values.append(counters[index])
        }
        for function in 0..<50 {
            let calls = poisson(histogramRates[function])
            for _ in 0..<calls {
                // Durations around 50 ms, spread over two decades.
                let seconds = 0.05 * pow(10, (uniform() - 0.5) * 2)
                sums[function] += seconds
                for (bucket, bound) in Self.bounds.enumerated() where seconds <= bound {
                    bucketCounts[function][bucket] += 1
                }
            }
            values += bucketCounts[function]
            values.append(sums[function])
            values.append(bucketCounts[function][11])
        }
        for index in 0..<100 {
            if uniform() < 1.0 / 600 { gauges[index] = Double(1 + Int(uniform() * 4)) }
            values.append(gauges[index])
        }
        return values
    }
}

let arguments = CommandLine.arguments
func argument(_ index: Int) -> String { index < arguments.count ? arguments[index] : "" }
let logger = Logger(label: "metricsbench", handler: StderrLogHandler())

/// The store's query API on a loopback port, as the gateway serves it (without the login).
func serveAPI(_ store: TimeSeriesStore, port: Int, group: EventLoopGroup) async throws {
    let api = PrometheusAPI(store: store)
    let responder = HTTPHandler { request in
        var form = request.query.map(HTTPForm.pairs) ?? []
        if request.method == .post {
            form += HTTPForm.pairs(
                Substring(String(decoding: try await request.body.collect(upTo: 1 << 20), as: UTF8.self)))
        }
        let path = String(request.path.dropFirst("/api/v1".count))
        let pairs = form.map { ($0.name, $0.value) }
        let now = Int64(Date().timeIntervalSince1970 * 1_000)
        let answer = try await PosixThread.run(name: "promql") { api.answer(path, form: pairs, now: now) }
        return HTTPResponse(
            status: HTTPStatus(code: answer.status), headers: ["Content-Type": answer.contentType],
            body: .string(answer.body))
    }
    let server = HTTPServer(
        configuration: HTTPServerConfiguration(host: "127.0.0.1", port: port), group: group, responder: responder)
    _ = try await server.start()
    FileHandle.standardOutput.write(Data("ready\n".utf8))
}

switch argument(1) {
case "generate":
    // generate SECONDS START: the mix as OpenMetrics (seconds timestamps) on standard output.
    let seconds = Int(argument(2)) ?? 7_200
    let start = Int(argument(3)) ?? 0
    var mix = OpenFaaSMix()
    let prefixes = mix.series.map { series in
        series.name + "{" + series.labels.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",") + "} "
    }
    // OpenMetrics wants each family together; promtool sorts the samples itself.
    var lines = Array(repeating: [UInt8](), count: mix.series.count)
    for second in 0..<seconds {
        let values = mix.step()
        for (index, value) in values.enumerated() {
            let text = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
            lines[index] += Array((prefixes[index] + text + " \(start + second)\n").utf8)
        }
    }
    let out = FileHandle.standardOutput
    var family = ""
    for (index, series) in mix.series.enumerated() {
        let base =
            series.name.hasSuffix("_total")
            ? series.name
            : series.name.replacingOccurrences(
                of: "_bucket", with: ""
            ).replacingOccurrences(of: "_sum", with: "").replacingOccurrences(of: "_count", with: "")
        if base != family {
            family = base
            let type = base.hasSuffix("_total") ? "counter" : base == "gateway_service_count" ? "gauge" : "histogram"
            out.write(Data("# TYPE \(base) \(type)\n".utf8))
        }
        out.write(Data(lines[index]))
        lines[index] = []
    }
    out.write(Data("# EOF\n".utf8))

case "load":
    // load SECONDS START DIR: the same samples into a store, written to blocks; prints samples and bytes.
    let seconds = Int(argument(2)) ?? 7_200
    let start = Int64(argument(3)) ?? 0
    let store = try TimeSeriesStore(directory: argument(4))
    var mix = OpenFaaSMix()
    let labels = mix.series.map { Labels([(Labels.metricName, $0.name)] + $0.labels) }
    for second in 0..<seconds {
        let time = (start + Int64(second)) * 1_000
        let values = mix.step()
        try store.append(zip(labels, values).map { ($0, Sample(timestamp: time, value: $1)) })
    }
    try store.persistHead()
    let statistics = store.statistics
    print("samples=\(statistics.blockSamples) bytes=\(statistics.blockBytes) blocks=\(statistics.blocks)")

case "serve":
    // serve DIR PORT: the store's /api/v1 on 127.0.0.1:PORT.
    let group = try EventLoopGroup()
    let store = try TimeSeriesStore(directory: argument(2))
    try await serveAPI(store, port: Int(argument(3)) ?? 9091, group: group)
    while true { try await Task.sleep(for: .seconds(3600)) }

case "exporter":
    // exporter PORT: the mix's series as a scrape target, one second further at each scrape.
    let group = try EventLoopGroup(loopCount: 1)
    let mix = Mutex(OpenFaaSMix())
    let names = OpenFaaSMix().series.map { series in
        series.name + "{" + series.labels.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",") + "} "
    }
    let responder = HTTPHandler { _ in
        let values = mix.withLock { $0.step() }
        var text = ""
        for (name, value) in zip(names, values) { text += name + PrometheusText.number(value) + "\n" }
        return HTTPResponse(status: .ok, headers: ["Content-Type": "text/plain; version=0.0.4"], body: .string(text))
    }
    let server = HTTPServer(
        configuration: HTTPServerConfiguration(host: "127.0.0.1", port: Int(argument(2)) ?? 9100), group: group,
        responder: responder)
    _ = try await server.start()
    FileHandle.standardOutput.write(Data("ready\n".utf8))
    while true { try await Task.sleep(for: .seconds(3600)) }

case "live":
    // live DIR PORT TARGET_PORT: a store scraping 127.0.0.1:TARGET_PORT every second, its /api/v1 on PORT.
    let group = try EventLoopGroup()
    let store = try TimeSeriesStore(directory: argument(2))
    let client = HTTPClient(group: group)
    let targetPort = Int(argument(4)) ?? 9100
    let collection = MetricsCollection(
        store: store, registry: MetricsRegistry(), interval: .seconds(1), logger: logger,
        targets: {
            [
                MetricsCollection.Target(
                    job: "exporter", instance: "127.0.0.1:\(targetPort)", host: "127.0.0.1", port: targetPort)
            ]
        },
        fetch: { target, timeout in
            let request = HTTPClientRequest(host: target.host, port: target.port, target: target.path)
            return try await client.fetch(request, timeout: timeout, maxBytes: 16 << 20).body
        })
    try await serveAPI(store, port: Int(argument(3)) ?? 9091, group: group)
    await collection.run()

default:
    print("usage: skiff-metricsbench generate|load|serve|exporter|live …")
    exit(2)
}
