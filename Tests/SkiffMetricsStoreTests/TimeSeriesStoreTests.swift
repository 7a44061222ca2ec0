import Foundation
import SkiffPOSIX
import Testing

@testable import SkiffMetricsStore

/// The head and its write-ahead log: selectors pick the series Prometheus would, samples that are not newer are
/// refused and counted, and what was appended comes back after a restart, a torn end of the log cut off.
@Suite("Time-series store")
struct TimeSeriesStoreTests {
    private static func directory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("skiff-tsdb-\(UUID().uuidString)").path
    }

    private static func labels(_ name: String, _ pairs: [String: String]) -> Labels {
        Labels(pairs.map { ($0.key, $0.value) } + [(Labels.metricName, name)])
    }

    /// 3 functions × 2 codes of a counter, and a gauge per function, every second for ten minutes.
    private static func fill(_ store: TimeSeriesStore) throws {
        for second in 0..<600 {
            var batch: [(labels: Labels, sample: Sample)] = []
            for function in ["a", "b", "c"] {
                for code in ["200", "500"] {
                    let value = Double(second * (code == "200" ? 3 : 1))
                    batch.append(
                        (
                            labels("gateway_function_invocation_total", ["function_name": function, "code": code]),
                            Sample(timestamp: Int64(second) * 1_000, value: value)
                        ))
                }
                batch.append(
                    (
                        labels("gateway_service_count", ["function_name": function]),
                        Sample(timestamp: Int64(second) * 1_000, value: 1)
                    ))
            }
            let appended = try store.append(batch)
            #expect(appended.stored == 9)
        }
    }

    @Test func selectorsPickTheSeriesPrometheusWouldInLabelOrder() throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try TimeSeriesStore(directory: path)
        try Self.fill(store)
        func names(_ matchers: [LabelMatcher]) throws -> [String] {
            try store.select(matchers, from: 0, through: 600_000).map(\.labels.description)
        }
        let name = try LabelMatcher(Labels.metricName, .equal, "gateway_function_invocation_total")
        #expect(
            try names([name, try LabelMatcher("code", .equal, "500")]) == [
                #"gateway_function_invocation_total{code="500", function_name="a"}"#,
                #"gateway_function_invocation_total{code="500", function_name="b"}"#,
                #"gateway_function_invocation_total{code="500", function_name="c"}"#,
            ])
        #expect(try names([name, try LabelMatcher("function_name", .matchesRegex, "a|c")]).count == 4)
        #expect(try names([name, try LabelMatcher("function_name", .notMatchesRegex, "a|c")]).count == 2)
        #expect(try names([name, try LabelMatcher("function_name", .notEqual, "a")]).count == 4)
        // A regular expression matches the whole value; a missing label matches as "".
        #expect(try names([try LabelMatcher("function_name", .matchesRegex, "b.*")]).count == 3)
        #expect(try names([try LabelMatcher("function_name", .matchesRegex, "")]).isEmpty)
        #expect(try names([name, try LabelMatcher("missing", .equal, "")]).count == 6)
        #expect(try names([try LabelMatcher(Labels.metricName, .matchesRegex, "gateway_.*")]).count == 9)
        #expect(store.labelNames == ["__name__", "code", "function_name"])
        #expect(store.labelValues("function_name") == ["a", "b", "c"])
        // The range is inclusive at both ends and reads across closed and open chunks (600 samples: 5 chunks).
        let one = try store.select(
            [name, try LabelMatcher("function_name", .equal, "b"), try LabelMatcher("code", .equal, "200")],
            from: 119_000, through: 481_000)
        #expect(one.count == 1 && one.first?.samples.count == 363)
        #expect(one.first?.samples.first == Sample(timestamp: 119_000, value: 357))
        #expect(one.first?.samples.last == Sample(timestamp: 481_000, value: 1_443))
        #expect(throws: LabelMatcherError.self) { try LabelMatcher("a", .matchesRegex, "(") }
    }

    @Test func samplesThatAreNotNewerAreRefusedAndCounted() throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try TimeSeriesStore(directory: path)
        let series = Self.labels("m", [:])
        try store.append([(series, Sample(timestamp: 1_000, value: 1)), (series, Sample(timestamp: 2_000, value: 2))])
        let appended = try store.append([
            (series, Sample(timestamp: 1_500, value: 9)), (series, Sample(timestamp: 2_000, value: 2)),
            (series, Sample(timestamp: 2_000, value: 3)), (series, Sample(timestamp: 3_000, value: 3)),
        ])
        #expect(appended == TimeSeriesStore.Appended(stored: 1, outOfOrder: 1, duplicates: 1, conflicting: 1))
        #expect(store.refused.outOfOrder == 1 && store.refused.conflicting == 1)
        let samples = try store.select([try LabelMatcher("__name__", .equal, "m")], from: 0, through: 10_000)
        #expect(samples.first?.samples.map(\.value) == [1, 2, 3])
    }

    @Test func whatWasAppendedComesBackAfterARestartAndATornEndIsCutOff() throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let everything = [try LabelMatcher(Labels.metricName, .matchesRegex, ".+")]
        let before: [TimeSeriesStore.SeriesSamples]
        do {
            let store = try TimeSeriesStore(directory: path)
            try Self.fill(store)
            try store.sync()
            before = try store.select(everything, from: 0, through: .max)
        }
        let reopened = try TimeSeriesStore(directory: path)
        #expect(reopened.opening.truncatedBytes == 0 && reopened.opening.series == 9)
        #expect(reopened.opening.samples == 5_400)
        #expect(try reopened.select(everything, from: 0, through: .max) == before)

        // A record cut short (the machine stopped mid-write) ends the log; the store opens with what came before.
        let segment = try #require(try WriteAheadLog(directory: "\(path)/wal").segmentPaths.last)
        var torn: [UInt8] = []
        WriteAheadLog.encode(
            .samples([
                (UInt64(1), Sample(timestamp: 999_000, value: 1)), (UInt64(2), Sample(timestamp: 999_000, value: 2)),
            ]),
            into: &torn)
        let handle = try #require(FileHandle(forWritingAtPath: segment))
        handle.seekToEndOfFile()
        handle.write(Data(torn.dropLast(5)))
        try handle.close()
        let repaired = try TimeSeriesStore(directory: path)
        #expect(repaired.opening.truncatedBytes == torn.count - 5)
        #expect(try repaired.select(everything, from: 0, through: .max) == before)
        // And it appends after the cut: the next start reads it whole.
        try repaired.append([(Self.labels("late", [:]), Sample(timestamp: 5, value: 5))])
        try repaired.sync()
        let again = try TimeSeriesStore(directory: path)
        #expect(again.opening.truncatedBytes == 0 && again.opening.series == 10)
    }

    @Test func damageInsideTheLogEndsItThereAndDropsLaterSegments() throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = try WriteAheadLog(directory: "\(path)/wal", segmentBytes: 256)
        var written: [WALRecord] = []
        for index in 0..<40 {
            let record = WALRecord.series(id: UInt64(index + 1), labels: Self.labels("m\(index)", ["i": "\(index)"]))
            written.append(record)
            try log.log([record])
        }
        try log.sync()
        let segments = log.segmentPaths
        #expect(segments.count > 3)
        // One flipped byte in the second segment's payload.
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: segments[1])))
        bytes[12] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: segments[1]))
        var replayed: [WALRecord] = []
        let replay = try WriteAheadLog(directory: "\(path)/wal", segmentBytes: 256).replay { replayed.append($0) }
        #expect(replay.truncatedBytes > 0)
        #expect(replayed == Array(written.prefix(replayed.count)))
        #expect(try WriteAheadLog(directory: "\(path)/wal").segmentPaths == Array(segments.prefix(2)))
    }

    @Test func recordsReadBackAsWritten() {
        let records: [WALRecord] = [
            .series(id: 7, labels: Self.labels("x", ["a": "1", "ünï": "流 \"q\""])),
            .samples([
                (UInt64(7), Sample(timestamp: -5, value: .nan)), (UInt64(3), Sample(timestamp: 1 << 40, value: -0.0)),
            ]),
            .samples([]),
        ]
        for record in records {
            var bytes: [UInt8] = []
            WriteAheadLog.encode(record, into: &bytes)
            let decoded = WriteAheadLog.decode(bytes, at: 0)
            #expect(decoded?.0 == record && decoded?.1 == bytes.count)
            for cut in 0..<bytes.count { #expect(WriteAheadLog.decode(Array(bytes.prefix(cut)), at: 0) == nil) }
        }
    }

    /// A range query or a subquery that would step without end is refused before it starts.
    @Test func unboundedStepsAreRefused() throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let engine = PromQLEngine(source: try TimeSeriesStore(directory: path))
        let query = try PromQLParser.parse("vector(1)")
        #expect(throws: PromQLEvaluationError.self) {
            _ = try engine.range(query, start: 0, end: 11_000_000, step: 1).count
        }
        #expect(try engine.range(query, start: 0, end: 10_999, step: 1).first?.samples.count == 11_000)
        let subquery = try PromQLParser.parse("max_over_time(vector(1)[100y:1ms])")
        #expect(throws: PromQLEvaluationError.self) { try engine.instant(subquery, at: 0) }
    }
}
