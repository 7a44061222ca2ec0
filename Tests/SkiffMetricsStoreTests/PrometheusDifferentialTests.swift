import Foundation
import SkiffPOSIX
import SkiffTestSupport
import Testing

@testable import SkiffMetricsStore

/// The same data in Debian's Prometheus 2.42 (blocks made by promtool, served by the real server on loopback) and
/// in Skiff's store; the same queries at the same times to both; the answers must be equal (labels exactly,
/// values within a relative 1e-9, NaN equal to NaN). The queries are those the OpenFaaS tooling and its Grafana
/// dashboards send (`prometheus.md` §5) and a sample of PromQL's shapes.
@Suite("PromQL against Prometheus")
struct PrometheusDifferentialTests {
    static let queries = [
        #"sum(gateway_function_invocation_total{function_name=~".*.openfaas-fn"}) by (function_name)"#,
        #"sum(gateway_function_invocation_total{function_name=~".*", code=~".*"}) by (function_name, code)"#,
        "rate ( gateway_function_invocation_total [20s])", "gateway_service_count",
        #"scalar( sum( gateway_function_invocation_total {  code="200"} ))"#,
        "(rate(gateway_functions_seconds_sum[20s]) / rate(gateway_functions_seconds_count[20s]))",
        "sum(rate(gateway_function_invocation_total[1m])) by (function_name, code)",
        "histogram_quantile(0.99, sum(rate(gateway_functions_seconds_bucket[5m])) by (le, function_name))",
        "histogram_quantile(0.5, rate(gateway_functions_seconds_bucket[2m]))",
        "sum(increase(gateway_function_invocation_total[1m])) by (code)",
        #"sum(rate(gateway_function_invocation_total{code="200"}[10s])) BY (function_name) > 5"#,
        "irate(gateway_function_invocation_total[1m])", "delta(gateway_service_count[10m])",
        "deriv(gateway_service_count[15m])", "predict_linear(gateway_function_invocation_total[10m], 600)",
        "avg_over_time(gateway_service_count[7m])", "max_over_time(gateway_functions_seconds_sum[3m] offset 2m)",
        "quantile_over_time(0.9, gateway_functions_seconds_count[5m])", "stddev_over_time(gateway_service_count[30m])",
        "changes(gateway_service_count[1h])", "resets(gateway_function_invocation_total[1h])",
        "topk(3, rate(gateway_function_invocation_total[5m]))", "bottomk(2, gateway_service_count)",
        "quantile(0.75, gateway_service_count)", "count_values(\"replicas\", gateway_service_count)",
        "stdvar by (code) (gateway_function_invocation_total)",
        "avg without (code) (gateway_function_invocation_total)",
        #"gateway_function_invocation_total / on (function_name) group_left gateway_service_count"#,
        #"gateway_service_count * on (function_name) group_right sum by (function_name, code) (gateway_function_invocation_total)"#,
        #"gateway_function_invocation_total{code="500"} and on (function_name) gateway_service_count > 2"#,
        #"gateway_function_invocation_total{code="200"} unless ignoring (code) gateway_function_invocation_total{code="500"} > 100"#,
        "gateway_service_count == bool 3", "-gateway_service_count ^ 2 % 7",
        #"label_replace(gateway_service_count, "fn", "$1", "function_name", "(.*)\\.openfaas-fn")"#,
        "max_over_time(rate(gateway_function_invocation_total[1m])[10m:30s])", "timestamp(gateway_service_count)",
        "absent(nonexistent{job=\"x\"})", "vector(time()) - 5", "clamp(gateway_service_count, 2, 4)",
    ]

    /// Counters shaped like the gateway's (Poisson-ish increments, one reset), histograms with 12 buckets, gauges
    /// that step now and then; every 15 s for two hours.
    static func openMetrics(start: Int64) -> String {
        var random = SeededGenerator(seed: 7)
        let functions = ["figlet.openfaas-fn", "nodeinfo.openfaas-fn", "env.openfaas-fn", "echo.other"]
        let steps = 480
        var text = "# TYPE gateway_function_invocation_total counter\n"
        for function in functions {
            for code in ["200", "500"] {
                var total = 0.0
                for step in 0..<steps {
                    total += Double(Int.random(in: 0...(code == "200" ? 40 : 3), using: &random))
                    if step == 300 && function == "env.openfaas-fn" { total = 0 }
                    text +=
                        "gateway_function_invocation_total{code=\"\(code)\",function_name=\"\(function)\"} "
                        + "\(Int(total)) \(start / 1_000 + Int64(step) * 15)\n"
                }
            }
        }
        text += "# TYPE gateway_functions_seconds histogram\n"
        let bounds = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
        for function in functions {
            var counts = Array(repeating: 0.0, count: bounds.count)
            var sum = 0.0
            var lines: [[String]] = Array(repeating: [], count: bounds.count + 2)
            for step in 0..<steps {
                for _ in 0..<Int.random(in: 0...8, using: &random) {
                    let duration = Double.random(in: 0.001...3, using: &random)
                    sum += duration
                    for (index, bound) in bounds.enumerated() where duration <= (Double(bound) ?? .infinity) {
                        counts[index] += 1
                    }
                }
                let time = start / 1_000 + Int64(step) * 15
                for (index, bound) in bounds.enumerated() {
                    lines[index].append(
                        "gateway_functions_seconds_bucket{code=\"200\",function_name=\"\(function)\",le=\"\(bound)\"} "
                            + "\(Int(counts[index])) \(time)")
                }
                lines[bounds.count].append(
                    "gateway_functions_seconds_sum{code=\"200\",function_name=\"\(function)\"} \(sum) \(time)")
                lines[bounds.count + 1].append(
                    "gateway_functions_seconds_count{code=\"200\",function_name=\"\(function)\"} "
                        + "\(Int(counts[bounds.count - 1])) \(time)")
            }
            for series in lines { text += series.joined(separator: "\n") + "\n" }
        }
        text += "# TYPE gateway_service_count gauge\n"
        for function in functions {
            var replicas = 1
            for step in 0..<steps {
                if Int.random(in: 0..<40, using: &random) == 0 { replicas = Int.random(in: 0...5, using: &random) }
                text +=
                    "gateway_service_count{function_name=\"\(function)\"} \(replicas) \(start / 1_000 + Int64(step) * 15)\n"
            }
        }
        return text + "# EOF\n"
    }

    /// The generated data in Prometheus (served on loopback) and in a Skiff store; `body` gets the server's base
    /// URL, the store and the data's first time.
    static func withBoth(_ body: (String, TimeSeriesStore, Int64) async throws -> Void) async throws {
        for binary in ["/usr/bin/promtool", "/usr/bin/prometheus"] where !FileManager.default.fileExists(atPath: binary)
        {
            Issue.record("\(binary) missing: apt install prometheus (scripts/test does)")
            return
        }
        // Two hours that ended a few hours ago, inside Prometheus's retention and on its block boundaries.
        let now = Int64(Date().timeIntervalSince1970 * 1_000)
        let start = now - now % ChunkCutter.defaultRange - 3 * ChunkCutter.defaultRange
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-diff-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let text = Self.openMetrics(start: start)
        let input = directory.appendingPathComponent("in.om")
        try Data(text.utf8).write(to: input)
        let data = directory.appendingPathComponent("prometheus")
        let made = try await ChildProcess(
            "/usr/bin/promtool", ["tsdb", "create-blocks-from", "openmetrics", input.path, data.path]
        ).run()
        #expect(made.succeeded, "\(String(decoding: made.standardError, as: UTF8.self))")
        let configuration = directory.appendingPathComponent("prometheus.yml")
        try Data("global:\n  scrape_interval: 1h\n".utf8).write(to: configuration)

        // Skiff's store, filled from the same text.
        let store = try TimeSeriesStore(directory: directory.appendingPathComponent("skiff").path)
        var batch: [(labels: Labels, sample: Sample)] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let (labels, rest) = try PromQLScript.labels(line)
            let fields = rest.split(separator: " ")
            guard fields.count == 2, let value = Double(fields[0]), let seconds = Int64(fields[1]) else { continue }
            batch.append((labels, Sample(timestamp: seconds * 1_000, value: value)))
        }
        try store.append(batch)

        let port = try freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        server.arguments = [
            "--config.file=\(configuration.path)", "--storage.tsdb.path=\(data.path)",
            "--storage.tsdb.retention.time=10y", "--web.listen-address=127.0.0.1:\(port)",
        ]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        let base = "http://127.0.0.1:\(port)"
        var ready = false
        for _ in 0..<300 where !ready {
            ready = (try? await Self.get("\(base)/-/ready")) != nil
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(ready, "prometheus did not become ready")
        guard ready else { return }
        try await body(base, store, start)
    }

    @Test func skiffAnswersAsPrometheusDoes() async throws {
        try await Self.withBoth { base, store, start in try await Self.compare(base, store, start) }
    }

    /// The API itself: the same requests (good and bad) to Prometheus over HTTP and to Skiff's `PrometheusAPI`;
    /// the same status, the same error type and text, the same `data` (values compared as the strings they are).
    @Test func theQueryAPIAnswersAsPrometheusDoes() async throws {
        try await Self.withBoth { base, store, start in
            let api = PrometheusAPI(store: store)
            let at = String(format: "%.3f", Double(start + 61 * 60_000 + 500) / 1_000)
            let later = String(Double(start + 90 * 60_000) / 1_000)
            let rfc = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(start) / 1_000 + 3_600))
            let requests: [(String, [(String, String)])] = [
                ("/query", [("query", "gateway_service_count"), ("time", at)]),
                ("/query", [("query", "scalar(sum(gateway_service_count))"), ("time", at)]),
                ("/query", [("query", "vector(1e-7) * 3"), ("time", at)]),
                ("/query", [("query", "1e21 + 1"), ("time", at)]),
                ("/query", [("query", "1 / 0"), ("time", at)]),
                ("/query", [("query", #""some text""#), ("time", at)]),
                ("/query", [("query", "gateway_service_count[1m]"), ("time", at)]),
                ("/query", [("query", "rate(gateway_function_invocation_total[1m])"), ("time", rfc)]),
                (
                    "/query_range",
                    [("query", "sum(gateway_service_count)"), ("start", at), ("end", later), ("step", "5m")]
                ),
                ("/query_range", [("query", "time()"), ("start", at), ("end", later), ("step", "1200")]),
                ("/labels", []),
                ("/label/function_name/values", []),
                ("/label/code/values", [("match[]", "gateway_function_invocation_total")]),
                ("/series", [("match[]", "gateway_service_count"), ("match[]", #"{code="500"}"#)]),
                ("/query", [("query", "sum(x")]),
                ("/query", [("query", "x +")]),
                ("/query", [("query", #"{job=~".*"}"#)]),
                ("/query", [("query", "rate(x)")]),
                ("/query", [("query", "x"), ("time", "abc")]),
                ("/query_range", [("query", "x"), ("start", "10"), ("end", "5"), ("step", "1")]),
                ("/query_range", [("query", "x"), ("start", "1"), ("end", "5"), ("step", "0")]),
                ("/query_range", [("query", "x"), ("start", "1"), ("end", "5")]),
                ("/query_range", [("query", "x"), ("start", "abc"), ("end", "5"), ("step", "1")]),
                ("/query_range", [("query", "x"), ("start", "0"), ("end", "11001"), ("step", "1")]),
                ("/query_range", [("query", "x[5m]"), ("start", "0"), ("end", "10"), ("step", "1")]),
                ("/series", []),
                ("/series", [("match[]", #"{a=~".*"}"#)]),
                ("/series", [("match[]", "x{")]),
                ("/label/bad-name/values", []),
                ("/query", [("query", #"x{a=~"("}"#)]),
                ("/query", [("query", #"x{a=~"a**"}"#)]),
                ("/query", [("query", #"label_replace(gateway_service_count, "f", "$1", "function_name", "(")"#)]),
                ("/query", [("query", #"count(gateway_service_count{function_name=~"(?i)ENV.*|e.h(o)\.other"})"#)]),
                (
                    "/query",
                    [
                        ("query", #"count(gateway_service_count{function_name=~"(?i)ENV.*|e.h(o)\\.other"})"#),
                        ("time", at),
                    ]
                ),
                (
                    "/query",
                    [
                        (
                            "query",
                            #"label_replace(gateway_service_count, "f", "$2-$1", "function_name", "(\\w+)\\.(.*)")"#
                        ), ("time", at),
                    ]
                ),
                ("/nothing", []),
            ]
            for (path, form) in requests {
                let query = form.map { "\($0.0)=\(Self.escape($0.1))" }.joined(separator: "&")
                let outcome = try await ChildProcess(
                    "/usr/bin/curl",
                    ["-s", "--max-time", "10", "-w", "\n%{http_code}", "\(base)/api/v1\(path)?\(query)"]
                ).run()
                let text = String(decoding: outcome.standardOutput, as: UTF8.self)
                let status = Int(text.split(separator: "\n").last ?? "") ?? 0
                let theirs = String(text.dropLast(String(status).count + 1))
                let mine = api.answer(path, form: form, now: start)
                #expect(
                    mine.status == status,
                    "\(path) \(form): skiff \(mine.status) \(mine.body), prometheus \(status) \(theirs)")
                #expect(
                    Self.normalised(mine.body) == Self.normalised(theirs),
                    "\(path) \(form):\nskiff      \(mine.body)\nprometheus \(theirs)")
            }
        }
    }

    /// An answer for comparison: JSON re-serialised with sorted keys, the members of a result sorted (their order
    /// is unspecified); other text as it is.
    static func normalised(_ body: String) -> String {
        guard var object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] else {
            return body
        }
        if var data = object["data"] as? [String: Any], let result = data["result"] as? [[String: Any]] {
            func key(_ member: [String: Any]) -> String {
                let metric = member["metric"] ?? [:]
                let bytes = (try? JSONSerialization.data(withJSONObject: metric, options: [.sortedKeys])) ?? Data()
                return String(decoding: bytes, as: UTF8.self)
            }
            data["result"] = result.sorted { key($0) < key($1) }
            object["data"] = data
        }
        let bytes = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func compare(_ base: String, _ store: TimeSeriesStore, _ start: Int64) async throws {
        let engine = PromQLEngine(source: store)
        var compared = 0
        var points = 0
        var rows = 0
        var empty: [String] = []
        for query in Self.queries {
            let expression = try PromQLParser.parse(query)
            let offsets: [Int64] = [17 * 60_000 + 7_000, 61 * 60_000, 119 * 60_000 + 45_000, 125 * 60_000]
            for offset in offsets {
                let time = start + offset
                let seconds = String(format: "%.3f", Double(time) / 1_000)
                let body = try await Self.get(
                    "\(base)/api/v1/query?query=\(Self.escape(query))&time=\(seconds)")
                let theirs = try Self.parse(body)
                let mine = try Self.flatten(engine.instant(expression, at: time))
                #expect(
                    Self.equal(mine, theirs), "\(query) at +\(offset / 1_000)s:\nskiff \(mine)\nprometheus \(theirs)")
                compared += 1
                rows += theirs.count
                if theirs.isEmpty { empty.append("\(query) at +\(offset / 1_000)s") }
            }
        }
        #expect(compared == Self.queries.count * 4)

        // The range queries read the same samples from blocks on disk.
        try store.persistHead()
        #expect(store.statistics.blocks >= 1 && store.statistics.headSamples == 0)

        // Range queries: the dashboards' view of the whole two hours and a little past, at two steps.
        for query in Self.queries {
            let expression = try PromQLParser.parse(query)
            guard expression.type == .scalar || expression.type == .vector else { continue }
            for step: Int64 in [60_000, 37_000] {
                let (first, last) = (start + 5 * 60_000, start + 125 * 60_000)
                let body = try await Self.get(
                    "\(base)/api/v1/query_range?query=\(Self.escape(query))&start=\(Double(first) / 1_000)"
                        + "&end=\(Double(last) / 1_000)&step=\(Double(step) / 1_000)")
                let theirs = try Self.parseMatrix(body)
                var mine: [String: Double] = [:]
                for series in try engine.range(expression, start: first, end: last, step: step) {
                    for sample in series.samples { mine["\(series.labels) @\(sample.timestamp)"] = sample.value }
                }
                #expect(
                    Self.equal(mine, theirs), "range \(query) step \(step / 1_000)s: \(Self.differences(mine, theirs))")
                points += theirs.count
            }
        }
        print("prometheus differential: \(points) points of range queries compared")
        #expect(points >= 20_000)
        // Not a comparison of nothing with nothing. Empty by design: everything 5 minutes past the data's end, a
        // 20 s window that holds one sample at 15 s spacing, the filters (`> 5`) and `absent`'s opposite.
        print("prometheus differential: \(compared) queries, \(rows) series compared, \(empty.count) empty")
        #expect(rows >= 400)
        #expect(compared - empty.count >= 110, "\(empty)")
    }

    /// Results as comparable rows: label text and value, sorted (vector order is unspecified).
    static func flatten(_ value: PromQLValue) -> [String: Double] {
        switch value {
        case .scalar(let number): return ["scalar": number]
        case .vector(let elements):
            var rows: [String: Double] = [:]
            for element in elements { rows[element.labels.description] = element.value }
            return rows
        default: return [:]
        }
    }

    static func parse(_ body: Data) throws -> [String: Double] {
        let object = try JSONSerialization.jsonObject(with: body) as? [String: Any]
        let data = object?["data"] as? [String: Any]
        let type = data?["resultType"] as? String
        if type == "scalar", let pair = data?["result"] as? [Any], let text = pair.last as? String {
            return ["scalar": PromQLScript.almostNumber(text)]
        }
        var rows: [String: Double] = [:]
        for item in data?["result"] as? [[String: Any]] ?? [] {
            let metric = item["metric"] as? [String: String] ?? [:]
            let text = (item["value"] as? [Any])?.last as? String ?? "NaN"
            rows[Labels(metric).description] = PromQLScript.almostNumber(text)
        }
        return rows
    }

    /// A range query's answer as rows of `labels @milliseconds`; a scalar's series has no labels.
    static func parseMatrix(_ body: Data) throws -> [String: Double] {
        let object = try JSONSerialization.jsonObject(with: body) as? [String: Any]
        let data = object?["data"] as? [String: Any]
        var rows: [String: Double] = [:]
        for item in data?["result"] as? [[String: Any]] ?? [] {
            let labels = Labels(item["metric"] as? [String: String] ?? [:])
            for pair in item["values"] as? [[Any]] ?? [] {
                guard let seconds = pair.first as? Double, let text = pair.last as? String else { continue }
                rows["\(labels) @\(Int64((seconds * 1_000).rounded()))"] = PromQLScript.almostNumber(text)
            }
        }
        return rows
    }

    static func equal(_ a: [String: Double], _ b: [String: Double]) -> Bool {
        guard a.keys.sorted() == b.keys.sorted() else { return false }
        return a.allSatisfy { key, x in
            guard let y = b[key] else { return false }
            if x.isNaN || y.isNaN { return x.isNaN && y.isNaN }
            if x == y { return true }
            return abs(x - y) / max(abs(x), abs(y)) < 1e-9
        }
    }

    /// The first few rows that differ, for the failure message.
    static func differences(_ mine: [String: Double], _ theirs: [String: Double]) -> String {
        var out: [String] = []
        for key in Set(mine.keys).union(theirs.keys).sorted()
        where !equal([key: mine[key] ?? .nan], [key: theirs[key] ?? .nan]) || (mine[key] == nil) != (theirs[key] == nil)
        {
            out.append(
                "\(key): skiff \(mine[key].map { "\($0)" } ?? "none"), prometheus \(theirs[key].map { "\($0)" } ?? "none")"
            )
            if out.count == 4 { break }
        }
        return "\(mine.count) vs \(theirs.count) points; " + out.joined(separator: "; ")
    }

    static func escape(_ query: String) -> String {
        query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? query
    }

    static func get(_ url: String) async throws -> Data {
        let outcome = try await ChildProcess("/usr/bin/curl", ["-sSf", "--max-time", "10", url]).run()
        guard outcome.succeeded else { throw PromQLScript.Mismatch("GET \(url): \(outcome.ending)") }
        return Data(outcome.standardOutput)
    }
}
