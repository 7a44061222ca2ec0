import Foundation
import SkiffLog
import SkiffMetrics
import SkiffPOSIX
import Synchronization

/// Fills the store, a long-lived service of the daemon: every interval it reads the daemon's own metrics registry
/// in-process (no HTTP round-trip) and scrapes every target (each replica's watchdog on :8081, labelled with its
/// function), and writes the whole round in one append at the scheduled time, so that regular rounds cost one bit
/// per timestamp. A series that a source stops reporting gets Prometheus's staleness marker. Every minute it lets
/// the store cut, merge and expire blocks, on a thread of its own.
public final class MetricsCollection: MetricsCollector {
    /// An HTTP endpoint in the Prometheus text format.
    public struct Target: Sendable, Hashable {
        public var job: String
        /// The `instance` label: the address as the machine knows it.
        public var instance: String
        /// Put on every series the target reports (a scraped label of the same name is kept as `exported_NAME`).
        public var labels: [String: String]
        /// Where to connect: a host and port, from inside `networkNamespace` when it is set.
        public var host: String
        public var port: Int
        public var networkNamespace: String?
        public var path = "/metrics"
        /// Milliseconds between scrapes, a multiple of the rounds'; nil: every round.
        public var interval: Int64?
        /// Sent as the `Authorization` header (a static target's basic auth).
        public var authorization: String?

        public init(
            job: String, instance: String, labels: [String: String] = [:], host: String, port: Int,
            networkNamespace: String? = nil
        ) {
            self.job = job
            self.instance = instance
            self.labels = labels
            self.host = host
            self.port = port
            self.networkNamespace = networkNamespace
        }
    }

    /// Fetches a target's exposition within a time limit.
    public typealias Fetch = @Sendable (Target, Duration) async throws -> [UInt8]

    /// What one round did.
    public struct Round: Sendable, Equatable {
        public var appended = TimeSeriesStore.Appended()
        public var targets = 0
        public var failedTargets = 0
        public var staleMarkers = 0
    }

    /// Samples one target may report in a round (Prometheus's `sample_limit`): a replica cannot fill the store.
    public static let sampleLimit = 20_000
    /// The largest exposition read from a target.
    static let maximumBytes = 16 << 20
    static let maintenanceEvery: Int64 = 60_000

    private struct State {
        /// Per source ("" for the registry, else job/instance), the series it reported last round.
        var previous: [String: Set<Labels>] = [:]
        var lastMaintenance: Int64?
        var rounds: UInt64 = 0
        var failedScrapes: UInt64 = 0
        var maintenanceFailures: UInt64 = 0
    }

    public let store: TimeSeriesStore
    /// Milliseconds between rounds.
    public let interval: Int64
    private let registry: MetricsRegistry
    private let targets: @Sendable () async -> [Target]
    private let fetch: Fetch
    private let logger: Logger
    private let state = Mutex(State())

    public init(
        store: TimeSeriesStore, registry: MetricsRegistry, interval: Duration, logger: Logger,
        targets: @escaping @Sendable () async -> [Target] = { [] }, fetch: @escaping Fetch = { _, _ in [] }
    ) {
        self.store = store
        self.registry = registry
        self.interval = max(1, interval.milliseconds)
        self.targets = targets
        self.fetch = fetch
        self.logger = logger
    }

    // MARK: The service

    /// Runs rounds on the interval's multiples until cancelled; then makes the log durable.
    public func run() async {
        var next = Evaluation.floorDivide(Self.now, interval) * interval + interval
        while !Task.isCancelled {
            let wait = next - Self.now
            if wait > 0 {
                do {
                    try await Task.sleep(for: .milliseconds(wait))
                } catch {
                    break
                }
            }
            await collect(at: next)
            await maintainIfDue(now: Self.now)
            next += interval
            // A round that ran long skips the times it missed rather than crowding them.
            if next <= Self.now { next = Evaluation.floorDivide(Self.now, interval) * interval + interval }
        }
        do {
            try store.sync()
        } catch {
            logger.error("metrics store: the last samples could not be synced: \(error)")
        }
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970 * 1_000) }

    private func maintainIfDue(now: Int64) async {
        let due = state.withLock { state in
            if let last = state.lastMaintenance, now - last < Self.maintenanceEvery { return false }
            state.lastMaintenance = now
            return true
        }
        guard due else { return }
        let store = self.store
        let outcome = try? await PosixThread.run(name: "tsdb-maintain") {
            () -> Result<TimeSeriesStore.Maintenance, BlockError> in
            Result { () throws(BlockError) in try store.maintain(now: now) }
        }
        switch outcome {
        case .success(let done):
            if done != TimeSeriesStore.Maintenance() {
                logger.info(
                    "metrics store: \(done.cut) block(s) cut from the head, \(done.merged) merged, \(done.deleted) "
                        + "deleted by retention")
            }
        case .failure(let error):
            state.withLock { $0.maintenanceFailures += 1 }
            logger.error("metrics store: maintenance failed: \(error)")
        case nil:
            state.withLock { $0.maintenanceFailures += 1 }
            logger.error("metrics store: maintenance could not start a thread")
        }
    }

    // MARK: One round

    /// Reads the registry and every target and stores what they report at `time` (milliseconds).
    @discardableResult
    public func collect(at time: Int64) async -> Round {
        var round = Round()
        var current: [String: [(Labels, Double)]] = ["": await registrySamples()]
        let known = await self.targets()
        // A target with its own interval is scraped on the rounds that fall on it; between them its series stay.
        let targets = known.filter { target in
            guard let every = target.interval, every > interval else { return true }
            return Evaluation.floorDivide(time, interval) % max(1, every / interval) == 0
        }
        let waiting = Set(known.map(Self.source)).subtracting(targets.map(Self.source))
        round.targets = targets.count
        let timeout = Duration.milliseconds(min(interval, 10_000))
        let fetch = self.fetch
        let scraped = await withTaskGroup(of: (Target, Result<[UInt8], any Error>, Double).self) { group in
            for target in Set(targets) {
                group.addTask {
                    let started = ContinuousClock.now
                    let result: Result<[UInt8], any Error>
                    do {
                        result = .success(try await fetch(target, timeout))
                    } catch {
                        result = .failure(error)
                    }
                    let elapsed = ContinuousClock.now - started
                    return (target, result, Double(elapsed.milliseconds) / 1_000)
                }
            }
            var all: [(Target, Result<[UInt8], any Error>, Double)] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        for (target, result, seconds) in scraped {
            let (series, failure) = Self.series(of: target, result)
            if let failure {
                round.failedTargets += 1
                logger.debug("metrics: scraping \(target.job)/\(target.instance) failed: \(failure)")
            }
            let base = target.labels.merging(["job": target.job, "instance": target.instance]) { $1 }
            func own(_ name: String) -> Labels { Labels(base.map { ($0.key, $0.value) } + [(Labels.metricName, name)]) }
            current[Self.source(target)] =
                series + [
                    (own("up"), failure == nil ? 1 : 0), (own("scrape_duration_seconds"), seconds),
                    (own("scrape_samples_scraped"), Double(series.count)),
                ]
        }
        var batch: [(labels: Labels, sample: Sample)] = []
        for (_, series) in current {
            for (labels, value) in series { batch.append((labels, Sample(timestamp: time, value: value))) }
        }
        let stale = state.withLock { state -> [Labels] in
            var gone: [Labels] = []
            var next = current.mapValues { Set($0.map(\.0)) }
            for (source, previous) in state.previous {
                if waiting.contains(source) {
                    next[source] = previous
                    continue
                }
                let now = Set(current[source]?.map(\.0) ?? [])
                gone += previous.subtracting(now)
            }
            state.previous = next
            state.rounds += 1
            state.failedScrapes += UInt64(round.failedTargets)
            return gone
        }
        round.staleMarkers = stale.count
        for labels in stale { batch.append((labels, Sample(timestamp: time, value: Sample.staleNaN))) }
        do {
            round.appended = try store.append(batch)
            if round.appended.overSeriesLimit > 0 {
                logger.warning(
                    "metrics store: \(round.appended.overSeriesLimit) samples of new series refused: the head holds "
                        + "\(store.maximumSeries) series (--metrics-max-series)")
            }
        } catch {
            logger.error("metrics store: a round of samples could not be written: \(error)")
        }
        return round
    }

    private static func source(_ target: Target) -> String { "\(target.job)/\(target.instance)" }

    private func registrySamples() async -> [(Labels, Double)] {
        var samples: [(Labels, Double)] = []
        for family in await registry.collect() {
            for sample in family.samples {
                samples.append(
                    (
                        Labels(sample.labels.map { ($0.name, $0.value) } + [(Labels.metricName, sample.name)]),
                        sample.value
                    ))
            }
        }
        return samples
    }

    /// A target's series with its labels added, or why the scrape failed.
    private static func series(of target: Target, _ result: Result<[UInt8], any Error>) -> ([(Labels, Double)], String?)
    {
        let bytes: [UInt8]
        switch result {
        case .success(let body): bytes = body
        case .failure(let error): return ([], "\(error)")
        }
        guard bytes.count <= maximumBytes else { return ([], "the exposition is larger than \(maximumBytes) bytes") }
        let lines: [ExpositionParser.Line]
        do {
            lines = try ExpositionParser.parse(bytes, limit: sampleLimit)
        } catch {
            return ([], error.description)
        }
        let added = target.labels.merging(["job": target.job, "instance": target.instance]) { $1 }
        var seen = Set<Labels>()
        var series: [(Labels, Double)] = []
        for line in lines {
            var pairs: [(String, String)] = []
            for label in line.labels.labels {
                pairs.append((added[label.name] == nil ? label.name : "exported_\(label.name)", label.value))
            }
            let labels = Labels(pairs + added.map { ($0.key, $0.value) })
            // A series given twice in one exposition is the first line's, as Prometheus keeps it.
            if seen.insert(labels).inserted { series.append((labels, line.value)) }
        }
        return (series, nil)
    }

    // MARK: The store's own metrics

    public func collect() async -> [MetricFamily] {
        let statistics = store.statistics
        let counters = state.withLock { $0 }
        return [
            .single(
                "skiff_tsdb_head_series", .gauge, help: "Series in the metrics store's head",
                Double(statistics.headSeries)),
            .single(
                "skiff_tsdb_head_samples", .gauge, help: "Samples in the metrics store's head",
                Double(statistics.headSamples)),
            .single(
                "skiff_tsdb_blocks", .gauge, help: "Blocks of the metrics store on disk", Double(statistics.blocks)),
            .single(
                "skiff_tsdb_storage_bytes", .gauge, help: "Bytes the metrics store's blocks and log take on disk",
                Double(statistics.blockBytes + statistics.logBytes)),
            .single(
                "skiff_tsdb_out_of_order_samples_total", .counter,
                help: "Samples refused for being older than their series' last",
                Double(statistics.refused.outOfOrder + statistics.refused.conflicting)),
            .single(
                "skiff_tsdb_series_limit_refusals_total", .counter,
                help: "Samples of new series refused because the head holds --metrics-max-series",
                Double(statistics.refused.overSeriesLimit)),
            .single(
                "skiff_tsdb_collection_rounds_total", .counter, help: "Rounds of the metrics store's collection",
                Double(counters.rounds)),
            .single(
                "skiff_tsdb_failed_scrapes_total", .counter, help: "Scrapes of targets that failed",
                Double(counters.failedScrapes)),
            .single(
                "skiff_tsdb_maintenance_failures_total", .counter,
                help: "Rounds of block cutting, merging and retention that failed", Double(counters.maintenanceFailures)
            ),
        ]
    }
}

extension Duration {
    fileprivate var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }
}
