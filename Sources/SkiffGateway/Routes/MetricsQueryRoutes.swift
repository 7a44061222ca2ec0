import Foundation
import SkiffHTTP
import SkiffMetricsStore
import SkiffPOSIX
import Synchronization

/// The metrics store's Prometheus-compatible query API, so that Grafana, the OpenFaaS tooling and anyone who knows
/// PromQL can point at Skiff as at Prometheus 2.42: `/api/v1/…` (GET with a query string, POST with a form body,
/// behind the admin login unless `--metrics-query-auth false`), `/-/healthy` and `/-/ready`.
extension Gateway {
    /// Queries evaluated at once; more answer 503 (a query holds a thread of its own while it runs).
    static let concurrentQueries = 4
    /// The largest form body a query may send (Grafana's longest dashboards send a few kilobytes).
    static let queryFormLimit = 1 << 20

    func addMetricsQueryRoutes(to router: inout HTTPRouter) throws {
        try router.add(.get, "/-/healthy") { _ in
            HTTPResponse(status: .ok, body: .string("Prometheus Server is Healthy.\n"))
        }
        try router.add(.get, "/-/ready") { _ in
            HTTPResponse(status: .ok, body: .string("Prometheus Server is Ready.\n"))
        }
        guard let metricsAPI else { return }
        let running = Atomic<Int>(0)
        let handler: @Sendable (HTTPRequest) async throws -> HTTPResponse = { request in
            var form = request.query.map(HTTPForm.pairs) ?? []
            if request.method == .post {
                let type = request.headers["Content-Type"] ?? ""
                if type.lowercased().hasPrefix("application/x-www-form-urlencoded") {
                    let body = try await request.body.collect(upTo: Self.queryFormLimit)
                    form += HTTPForm.pairs(Substring(String(decoding: body, as: UTF8.self)))
                }
            }
            let path = String(request.path.dropFirst("/api/v1".count))
            guard running.add(1, ordering: .relaxed).newValue <= Self.concurrentQueries else {
                running.subtract(1, ordering: .relaxed)
                return Self.render(.busy, retryAfter: true)
            }
            defer { running.subtract(1, ordering: .relaxed) }
            let pairs = form.map { ($0.name, $0.value) }
            let now = Int64(Date().timeIntervalSince1970 * 1_000)
            // Evaluation is synchronous and may take long: never on the loops' or the cooperative pool's threads.
            let answer = try await PosixThread.run(name: "promql") { metricsAPI.answer(path, form: pairs, now: now) }
            return Self.render(answer, retryAfter: false)
        }
        for method in [HTTPMethod.get, .post] {
            try router.add(method, "/api/v1/{path...}", handler: handler)
        }
    }

    private static func render(_ answer: PrometheusAPI.Answer, retryAfter: Bool) -> HTTPResponse {
        var headers: HTTPHeaders = ["Content-Type": answer.contentType]
        if retryAfter { headers.add(name: "Retry-After", value: "1") }
        return HTTPResponse(status: HTTPStatus(code: answer.status), headers: headers, body: .string(answer.body))
    }
}
