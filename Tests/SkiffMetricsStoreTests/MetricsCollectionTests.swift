import Foundation
import SkiffLog
import SkiffMetrics
import SkiffTestSupport
import Synchronization
import Testing

@testable import SkiffMetricsStore

/// The text exposition read as Prometheus reads it, and the collection rounds that fill the store from the
/// registry and from scrape targets.
@Suite("Metrics collection")
struct MetricsCollectionTests {
    @Test func theExpositionIsReadAsPrometheusReadsIt() throws {
        let text = """
            # HELP http_requests_total The total number of HTTP requests.
            # TYPE http_requests_total counter
            http_requests_total{method="post",code="200"} 1027 1395066363000
            http_requests_total{method="post",code="400"}    3
            msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9
            metric_without_timestamp_and_labels 12.47
            something_weird{problem="division by zero"} +Inf -3982045
            a:recording:rule{} NaN
            minus -Inf
            """
        let lines = try ExpositionParser.parse(Array(text.utf8), limit: 100)
        #expect(lines.count == 7)
        #expect(lines[0].labels.description == #"http_requests_total{code="200", method="post"}"#)
        #expect(lines[0].value == 1027 && lines[0].timestamp == 1_395_066_363_000)
        #expect(lines[1].value == 3 && lines[1].timestamp == nil)
        #expect(lines[2].labels["path"] == #"C:\DIR\FILE.TXT"#)
        #expect(lines[2].labels["error"] == "Cannot find file:\n\"FILE.TXT\"")
        #expect(lines[4].value == .infinity && lines[4].timestamp == -3_982_045)
        #expect(lines[5].labels.name == "a:recording:rule" && lines[5].value.isNaN)
        #expect(lines[6].value == -.infinity)
    }

    @Test(arguments: [
        "x{a=\"1\"", "x{a=1} 2", "x{a=\"1\",a=\"2\"} 3", "x 1 2 3", "x one", "{a=\"1\"} 2", "x{:a=\"1\"} 2",
        "x 1 1.5", "x{a=\"\\xff\"} 1",
    ])
    func malformedLinesFailTheScrape(line: String) {
        #expect(throws: ExpositionParser.Failure.self) { try ExpositionParser.parse(Array(line.utf8), limit: 10) }
    }

    @Test func labelValuesMustBeUTF8() {
        #expect(throws: ExpositionParser.Failure.self) {
            try ExpositionParser.parse(Array("x{a=\"".utf8) + [0xFF] + Array("\"} 1".utf8), limit: 10)
        }
    }

    @Test func anyBytesAreRefusedOrReadNeverACrash() {
        var random = SeededGenerator(seed: 11)
        let alphabet = Array("ab_:{}=\",\\ \n#+-.0123456789eInfNa\u{0}\u{ff}".utf8)
        for _ in 0..<5_000 {
            let bytes = (0..<Int.random(in: 0...60, using: &random)).map { _ in
                alphabet[Int.random(in: 0..<alphabet.count, using: &random)]
            }
            _ = try? ExpositionParser.parse(bytes, limit: 100)
        }
        #expect(throws: ExpositionParser.Failure.self) {
            try ExpositionParser.parse(Array(String(repeating: "x 1\n", count: 11).utf8), limit: 10)
        }
    }

    // MARK: Rounds

    private final class Calls: MetricsCollector {
        let count = Mutex<Double>(1)
        let extra = Mutex(true)
        let targets = Mutex<[MetricsCollection.Target]>([])
        let answers = Mutex<[String: String]>([:])

        func collect() async -> [MetricFamily] {
            var family = MetricFamily("calls_total", .counter, help: "calls")
            family.add([MetricLabel("function_name", "a.fn")], count.withLock { $0 })
            if extra.withLock({ $0 }) { family.add([MetricLabel("function_name", "b.fn")], 1) }
            return [family]
        }
    }

    private static func directory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("skiff-collect-\(UUID().uuidString)").path
    }

    @Test func roundsStoreTheRegistryAndTargetsAtTheirTimeAndMarkWhatVanished() async throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try TimeSeriesStore(directory: path)
        let registry = MetricsRegistry()
        let calls = Calls()
        registry.register(calls)
        let replica = MetricsCollection.Target(
            job: "function", instance: "10.62.0.5:8081", labels: ["function_name": "a.fn"], host: "10.62.0.5",
            port: 8081)
        calls.targets.withLock { $0 = [replica] }
        calls.answers.withLock {
            $0 = [
                "10.62.0.5:8081": "# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\",job=\"x\"} 7\n"
            ]
        }
        struct Unreachable: Error {}
        let collection = MetricsCollection(
            store: store, registry: registry, interval: .seconds(5),
            logger: Logger(label: "test", handler: MemoryLogHandler()),
            targets: { calls.targets.withLock { $0 } },
            fetch: { target, _ in
                guard let text = calls.answers.withLock({ $0[target.instance] }) else { throw Unreachable() }
                return Array(text.utf8)
            })
        registry.register(collection)
        let first = await collection.collect(at: 5_000)
        #expect(first.targets == 1 && first.failedTargets == 0 && first.staleMarkers == 0)
        calls.count.withLock { $0 = 4 }
        calls.extra.withLock { $0 = false }
        calls.answers.withLock { $0 = [:] }
        let second = await collection.collect(at: 10_000)
        // b.fn is gone from the registry; the replica answers nothing: its series are stale, its `up` is 0.
        #expect(second.failedTargets == 1)
        #expect(second.staleMarkers == 2)
        calls.targets.withLock { $0 = [] }
        let third = await collection.collect(at: 15_000)
        #expect(third.staleMarkers == 3)

        let engine = PromQLEngine(source: store)
        func value(_ query: String, at time: Int64) throws -> [String: Double] {
            PrometheusDifferentialTests.flatten(try engine.instant(try PromQLParser.parse(query), at: time))
        }
        #expect(try value("calls_total", at: 10_000) == [#"calls_total{function_name="a.fn"}"#: 4])
        #expect(try value("calls_total", at: 5_000).count == 2)
        // The scraped series carry the target's labels; its own `job` is kept as `exported_job`.
        #expect(
            try value("http_requests_total", at: 5_000) == [
                #"http_requests_total{code="200", exported_job="x", function_name="a.fn", instance="10.62.0.5:8081", job="function"}"#:
                    7
            ])
        #expect(try value("http_requests_total", at: 10_000).isEmpty)
        #expect(try value("up", at: 5_000).values.first == 1)
        #expect(try value("up", at: 10_000).values.first == 0)
        #expect(try value("up", at: 15_000).isEmpty)
        #expect(try value("scrape_samples_scraped", at: 5_000).values.first == 1)
        // The store reports on itself through the registry, and so into itself.
        #expect(try value("skiff_tsdb_collection_rounds_total", at: 15_000).values.first == 2)
        #expect(try value("skiff_tsdb_head_series", at: 15_000).values.first ?? 0 > 5)
    }

    /// A target with a longer interval is scraped on the rounds that fall on it, and its series do not go stale
    /// in between.
    @Test func aTargetWithItsOwnIntervalIsScrapedOnItsRounds() async throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try TimeSeriesStore(directory: path)
        var slow = MetricsCollection.Target(job: "node", instance: "10.0.0.5:9100", host: "10.0.0.5", port: 9100)
        slow.interval = 10_000
        let scrapes = Mutex(0)
        let collection = MetricsCollection(
            store: store, registry: MetricsRegistry(), interval: .seconds(5),
            logger: Logger(label: "test", handler: MemoryLogHandler()), targets: { [slow] in [slow] },
            fetch: { _, _ in
                let count = scrapes.withLock { value -> Int in
                    value += 1
                    return value
                }
                return Array("node_load1 \(count)\n".utf8)
            })
        var scraped: [Int] = []
        var stale = 0
        for round in 0..<6 {
            let outcome = await collection.collect(at: 1_000_000 + Int64(round) * 5_000)
            scraped.append(outcome.targets)
            stale += outcome.staleMarkers
        }
        #expect(scraped == [1, 0, 1, 0, 1, 0])
        #expect(stale == 0 && scrapes.withLock { $0 } == 3)
    }

    /// A target that invents new series every round (a function's code is not trusted) gets no more than the
    /// head's limit: its new series are refused and counted, the ones already there go on.
    @Test func aTargetInventingSeriesIsStoppedAtTheLimit() async throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try TimeSeriesStore(directory: path, maximumSeries: 150)
        let target = MetricsCollection.Target(job: "function", instance: "10.0.0.9:8081", host: "10.0.0.9", port: 8081)
        let rounds = Mutex(0)
        let collection = MetricsCollection(
            store: store, registry: MetricsRegistry(), interval: .seconds(5),
            logger: Logger(label: "test", handler: MemoryLogHandler()), targets: { [target] in [target] },
            fetch: { _, _ in
                let round = rounds.withLock { value -> Int in
                    value += 1
                    return value
                }
                // 100 new series a round, and one that stays.
                let text = (0..<100).map { "made_up{n=\"\(round)-\($0)\"} 1\n" }.joined() + "steady 1\n"
                return Array(text.utf8)
            })
        var refused = 0
        for round in 0..<4 {
            refused += await collection.collect(at: 1_000_000 + Int64(round) * 5_000).appended.overSeriesLimit
        }
        #expect(store.statistics.headSeries == 150)
        #expect(refused > 0 && store.refused.overSeriesLimit == refused)
        let steady = try store.select([LabelMatcher.equal(Labels.metricName, "steady")], from: 0, through: .max)
        #expect(steady.first?.samples.count == 4)
    }

    @Test func countersGoOnFromTheLastValueTheStoreHolds() throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try TimeSeriesStore(directory: path)
        let counter = Labels([
            (Labels.metricName, "gateway_function_invocation_total"), ("function_name", "a.fn"),
            ("code", "200"),
        ])
        try store.append([(counter, Sample(timestamp: 1_000, value: 5)), (counter, Sample(timestamp: 2_000, value: 9))])
        try store.append([(counter, Sample(timestamp: 3_000, value: Sample.staleNaN))])
        try store.persistHead()
        let name = try LabelMatcher(Labels.metricName, .equal, "gateway_function_invocation_total")
        #expect(try store.lastSamples([name])[counter]?.value == 9)
        let reopened = try TimeSeriesStore(directory: path)
        #expect(try reopened.lastSamples([name])[counter]?.value == 9)
    }
}
