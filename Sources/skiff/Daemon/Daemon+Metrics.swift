import SkiffAPI
import SkiffHTTP
import SkiffInvoke
import SkiffLog
import SkiffMetrics
import SkiffMetricsStore
import SkiffPOSIX
import SkiffRuntime

/// The metrics store in the daemon: opened from `STATE/metrics` before the gateway serves (so that invocation
/// counts go on from where they stood), filled by its collection service from the registry and every replica's
/// watchdog, queried through the gateway's `/api/v1`.
extension Daemon {
    struct MetricsSettings {
        var interval: Duration
        var retention: TimeSeriesStore.Retention
        /// Static targets from `--metrics-scrape-config`.
        var staticTargets: [MetricsCollection.Target] = []

        init(_ options: ServeOptions) throws {
            interval = try GoDuration.parse(options.metricsInterval, field: "metrics_interval", atMost: .seconds(300))
            guard interval >= .seconds(1) else {
                throw ServeOptions.Invalid(description: "--metrics-interval must be at least 1s")
            }
            let size = TimeSeriesStore.Retention.bytes(options.metricsRetentionSize) ?? 0
            retention = TimeSeriesStore.Retention(
                time: TimeSeriesStore.Retention.duration(options.metricsRetention) ?? 15 * 86_400_000,
                bytes: size > 0 ? size : nil)
            if !options.metricsScrapeConfig.isEmpty {
                staticTargets = try ScrapeConfiguration.load(path: options.metricsScrapeConfig, roundInterval: interval)
                    .targets
            }
        }
    }

    /// Says what opening the store found and repaired (after the listener's line, which harnesses read first).
    static func reportOpening(of store: TimeSeriesStore, logger: Logger) {
        let opening = store.opening
        if opening.truncatedBytes > 0 {
            logger.warning(
                "metrics store: the end of its log was unfinished or damaged; \(opening.truncatedBytes) bytes cut off")
        }
        for damaged in opening.damagedBlocks { logger.error("metrics store: \(damaged)") }
        logger.info(
            "metrics store opened",
            [
                "blocks": String(opening.blocks), "head_series": String(opening.series),
                "head_samples": String(opening.samples),
            ])
    }

    /// Each function's calls counted before this start, per status code, added to the gateway's counters.
    static func carryInvocationCounts(from store: TimeSeriesStore, into metrics: InvocationMetrics, logger: Logger) {
        do {
            let name = try LabelMatcher("__name__", .equal, "gateway_function_invocation_total")
            for (labels, sample) in try store.lastSamples([name]) {
                guard let function = labels["function_name"], let code = labels["code"].flatMap({ Int($0) }),
                    sample.value >= 1, sample.value < 1e18
                else { continue }
                metrics.carry(function, code: code, count: UInt64(sample.value))
            }
        } catch {
            logger.error("metrics store: invocation counts could not be read back, they start at zero: \(error)")
        }
    }

    /// Every ready replica's watchdog metrics listener (8081, or the function's `metrics_port`; 0 turns it off).
    static func scrapeTargets(_ runtime: any FunctionRuntime) async -> [MetricsCollection.Target] {
        var targets: [MetricsCollection.Target] = []
        for status in await runtime.listAll() {
            let definition = status.definition
            let port = Int(definition.envVars["metrics_port"] ?? "") ?? 8081
            guard (1...65_535).contains(port) else { continue }
            let function = "\(definition.name).\(definition.namespace)"
            for endpoint in runtime.endpoints(name: definition.name, namespace: definition.namespace) {
                targets.append(
                    MetricsCollection.Target(
                        job: "function", instance: "\(endpoint.host):\(port)", labels: ["function_name": function],
                        host: endpoint.upstreamHost, port: port, networkNamespace: endpoint.networkNamespace))
            }
        }
        return targets
    }

    static func scrape(_ client: HTTPClient) -> MetricsCollection.Fetch {
        { target, timeout in
            var request = HTTPClientRequest(
                host: target.host, port: target.port, target: target.path,
                headers: ["Accept": "text/plain;version=0.0.4"])
            if let authorization = target.authorization {
                request.headers.add(name: "Authorization", value: authorization)
            }
            request.networkNamespace = target.networkNamespace
            let (head, body) = try await client.fetch(request, timeout: timeout, maxBytes: 16 << 20)
            guard head.status.code == 200 else { throw ScrapeFailure(status: head.status.code) }
            return body
        }
    }

    struct ScrapeFailure: Error, CustomStringConvertible {
        let status: Int
        var description: String { "the target answered \(status)" }
    }
}
