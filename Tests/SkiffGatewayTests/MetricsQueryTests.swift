import Foundation
import SkiffHTTP
import SkiffLog
import SkiffMetrics
import SkiffMetricsStore
import SkiffPOSIX
import SkiffQueue
import SkiffTestSupport
import Testing

/// The metrics store behind the gateway on the in-memory runtime: `/api/v1` as Grafana and faas-cli users reach
/// it (login, GET and POST forms), and every panel of the shipped Grafana dashboard evaluated over data the
/// gateway's own collectors produced.
@Suite("Metrics queries through the gateway")
struct MetricsQueryTests {
    static let dashboard = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/grafana/skiff.json")

    private static func request(
        _ gw: InMemoryGateway, _ method: HTTPMethod, _ target: String, form: String? = nil, auth: Bool = true
    ) async throws -> (status: Int, text: String) {
        var headers = HTTPHeaders()
        if auth {
            let token = Data("\(gw.credentials.user):\(gw.credentials.password)".utf8).base64EncodedString()
            headers.add(name: "Authorization", value: "Basic \(token)")
        }
        if form != nil { headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded") }
        let request = HTTPClientRequest(
            method: method, host: "127.0.0.1", port: gw.port, target: target, headers: headers,
            body: form.map { .string($0) } ?? .empty)
        let (head, body) = try await testClient.fetch(request, timeout: .seconds(60))
        return (Int(head.status.code), String(decoding: body, as: UTF8.self))
    }

    /// `rounds` collection rounds 5 s apart, ending now, with calls to `echo` (one of them failing with 503) and
    /// a queued call between them; answers the first round's time.
    private static func fill(_ gw: InMemoryGateway, rounds: Int) async throws -> Int64 {
        let store = try #require(gw.metricsStore)
        gw.registry.register(ProcessMetrics(startTime: Date().timeIntervalSince1970))
        let collection = MetricsCollection(
            store: store, registry: gw.registry, interval: .seconds(5),
            logger: Logger(label: "test", handler: MemoryLogHandler()))
        gw.registry.register(collection)
        #expect(try await gw.deploy("echo") == 200)
        let now = Int64(Date().timeIntervalSince1970 * 1_000)
        let first = now - Int64(rounds - 1) * 5_000
        for round in 0..<rounds {
            for _ in 0..<3 { #expect(try await gw.call(.get, "/function/echo", auth: false).status == 200) }
            _ = try await gw.call(.get, "/function/echo/flaky?fail=\(round + 1)", auth: false)
            if round == rounds / 2, gw.queue != nil {
                #expect(try await gw.call(.post, "/async-function/echo", json: "{}", auth: false).status == 202)
            }
            await collection.collect(at: first + Int64(round) * 5_000)
        }
        return first
    }

    @Test func theQueryAPIIsBehindTheLoginAndTakesGETAndPOSTForms() async throws {
        try await withInMemoryGateway(metricsStore: true) { gw in
            _ = try await Self.fill(gw, rounds: 2)
            let query = "/api/v1/query?query=sum(gateway_function_invocation_total)+by+(code)"
            #expect(try await Self.request(gw, .get, query, auth: false).status == 401)
            let got = try await Self.request(gw, .get, query)
            #expect(got.status == 200)
            #expect(got.text.contains(#"{"metric":{"code":"200"},"value":["#) && got.text.contains(#","6"]"#))
            // Grafana's default: POST with a form body.
            let posted = try await Self.request(
                gw, .post, "/api/v1/query", form: "query=count(gateway_service_count)")
            #expect(posted.text.contains(#""1"]"#), "\(posted.text)")
            let bad = try await Self.request(gw, .post, "/api/v1/query", form: "query=sum(")
            #expect(bad.status == 400 && bad.text.contains(#""errorType":"bad_data""#))
            #expect(try await Self.request(gw, .get, "/api/v1/nothing").status == 404)
            #expect(try await Self.request(gw, .get, "/-/healthy", auth: false).status == 200)
        }
        try await withInMemoryGateway(metricsStore: true, metricsQueryAuth: false) { gw in
            let open = try await Self.request(gw, .get, "/api/v1/query?query=vector(1)", auth: false)
            #expect(open.status == 200)
            // The admin API stays behind the login.
            #expect(try await Self.request(gw, .get, "/system/functions", auth: false).status == 401)
        }
    }

    /// What Prometheus scrapes from `/metrics` passes `promtool check metrics`, but for two names OpenFaaS chose
    /// (a counter without `_total`, a gauge ending in `_count`), kept for its dashboards, alerts and autoscaler.
    @Test func theExpositionPassesPromtool() async throws {
        guard FileManager.default.fileExists(atPath: "/usr/bin/promtool") else {
            Issue.record("/usr/bin/promtool missing: apt install prometheus (scripts/test does)")
            return
        }
        try await withInMemoryGateway(queueRetry: RetryPolicy(), startWorker: false, metricsStore: true) { gw in
            _ = try await Self.fill(gw, rounds: 2)
            let exposition = try await Self.request(gw, .get, "/metrics", auth: false)
            #expect(exposition.status == 200 && exposition.text.contains("skiff_tsdb_head_series"))
            var check = ChildProcess("/usr/bin/promtool", ["check", "metrics"])
            check.standardInput = Array(exposition.text.utf8)
            let outcome = try await check.run()
            let findings = String(decoding: outcome.standardOutput + outcome.standardError, as: UTF8.self)
                .split(separator: "\n").filter { !$0.isEmpty }
            #expect(
                findings == [
                    #"gateway_function_invocation_started counter metrics should have "_total" suffix"#,
                    #"gateway_service_count non-histogram and non-summary metrics should not have "_count" suffix"#,
                ], "\(findings)")
        }
    }

    @Test func everyPanelOfTheGrafanaDashboardEvaluates() async throws {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.dashboard)) as? [String: Any]
        let panels = try #require(object?["panels"] as? [[String: Any]])
        #expect(panels.count >= 10)
        try await withInMemoryGateway(queueRetry: RetryPolicy(), startWorker: false, metricsStore: true) { gw in
            let first = try await Self.fill(gw, rounds: 13)
            var empty: [String] = []
            var evaluated = 0
            for panel in panels {
                let title = panel["title"] as? String ?? "?"
                var points = 0
                for target in panel["targets"] as? [[String: Any]] ?? [] {
                    // What Grafana sends for "All" functions and its rate interval.
                    let expression = (target["expr"] as? String ?? "")
                        .replacingOccurrences(of: "$function", with: ".*")
                        .replacingOccurrences(of: "$__rate_interval", with: "1m")
                    let form =
                        "query=\(expression.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
                        + "&start=\(Double(first) / 1_000)&end=\(Double(first + 60_000) / 1_000)&step=5"
                    let answer = try await Self.request(gw, .post, "/api/v1/query_range", form: form)
                    #expect(answer.status == 200, "\(title): \(expression): \(answer.text)")
                    let body = try JSONSerialization.jsonObject(with: Data(answer.text.utf8)) as? [String: Any]
                    let result = (body?["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
                    points += result.reduce(0) { $0 + (($1["values"] as? [Any])?.count ?? 0) }
                    evaluated += 1
                }
                if points == 0 { empty.append(title) }
            }
            #expect(evaluated >= 18)
            // Only the replicas' watchdogs have nothing here: in-memory replicas export no metrics.
            #expect(empty == ["Replica watchdogs up"], "panels without data: \(empty)")
        }
    }
}
