import Foundation
import SkiffPOSIX
import SkiffTestSupport
import Testing

@testable import SkiffMetricsStore

/// Blocks on disk: their chunks read back bit for bit, the head is cut into them as Prometheus cuts it, they are
/// merged into longer ones and deleted by retention, and a damaged or unfinished one never stops a start.
@Suite("Metrics blocks")
struct BlockTests {
    private static func directory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("skiff-blocks-\(UUID().uuidString)").path
    }

    private static let hour: Int64 = 3_600_000

    // MARK: Chunks

    /// Value shapes a store meets, each with timestamps at a fixed step, with jitter and with gaps.
    private static func shapes(_ random: inout SeededGenerator) -> [[Double]] {
        let count = Int.random(in: 1...1_500, using: &random)
        var counter = 0.0
        var walk = 0.0
        var big = 9_007_199_254_740_990.0
        return [
            (0..<count).map { _ in
                counter += Double(Int.random(in: 0...20, using: &random))
                return counter
            },
            (0..<count).map { _ in Double(Int.random(in: -1_000_000...1_000_000, using: &random)) },
            (0..<count).map { _ in
                walk += Double.random(in: -1...1, using: &random)
                return walk
            },
            (0..<count).map { index in [0.0, -0.0, .nan, Sample.staleNaN, .infinity, -.infinity, 1e300][index % 7] },
            (0..<count).map { _ in
                big -= 1
                return big
            },
            (0..<count).map { index in index % 50 == 0 ? Double(Int64.random(in: 0...1 << 52, using: &random)) : 7 },
        ]
    }

    @Test func chunksReadBackBitForBitInEitherEncoding() throws {
        var random = SeededGenerator(seed: 17)
        for round in 0..<20 {
            for values in Self.shapes(&random) {
                var time = Int64.random(in: -10_000_000...1_800_000_000_000, using: &random)
                let samples = values.map { value -> Sample in
                    time += [15_000, 15_000 + Int64.random(in: -40...40, using: &random), 3_600_000][round % 3]
                    return Sample(timestamp: time, value: value)
                }
                let bytes = BlockChunk.encode(samples[...])
                let decoded = try BlockChunk.decode(bytes[...])
                #expect(decoded.count == samples.count)
                #expect(zip(decoded, samples).allSatisfy { $0.isIdentical(to: $1) }, "round \(round)")
            }
        }
    }

    /// Runs of ones read a byte at a time agree with reading them bit by bit, wherever they start and end.
    @Test func runsOfOnesReadAsBitByBit() throws {
        var random = SeededGenerator(seed: 23)
        for _ in 0..<2_000 {
            let bytes = (0..<Int.random(in: 1...6, using: &random)).map { _ in
                [0xFF, 0x00, 0xFE, 0x7F, UInt8.random(in: 0...255, using: &random)][
                    Int.random(in: 0..<5, using: &random)]
            }
            var fast = BitReader(bytes)
            var slow = BitReader(bytes)
            let skip = Int.random(in: 0..<8, using: &random)
            _ = try fast.readBits(skip)
            _ = try slow.readBits(skip)
            let limit = Int.random(in: 1...30, using: &random)
            let counted = try? fast.readOnes(upTo: limit)
            var expected = 0
            var exhausted = false
            do {
                while expected < limit, try slow.readBit() { expected += 1 }
            } catch {
                exhausted = true
            }
            #expect(exhausted ? counted == nil : counted == expected, "\(bytes) skip \(skip) limit \(limit)")
            if !exhausted { #expect(fast.remainingBits == slow.remainingBits) }
        }
    }

    @Test func countersTakeFewerBytesThanInXOR() {
        var random = SeededGenerator(seed: 3)
        var counter = 0.0
        let samples = (0..<1_024).map { index -> Sample in
            counter += Double(Int.random(in: 0...20, using: &random))
            return Sample(timestamp: 1_700_000_000_000 + Int64(index) * 1_000, value: counter)
        }
        var xor = XORChunk()
        for sample in samples { xor.append(sample) }
        let block = BlockChunk.encode(samples[...])
        #expect(block.first == BlockChunk.integers)
        // Uniform 0…20 has 4.4 bits of entropy a sample; XOR spends about twice that and more.
        #expect(Double(block.count) < Double(xor.bytes.count) * 0.6, "\(block.count) vs \(xor.bytes.count)")
    }

    @Test func damagedChunksAreRefused() {
        let samples = (0..<100).map { Sample(timestamp: Int64($0) * 1_000, value: Double($0 * 3)) }
        let bytes = BlockChunk.encode(samples[...])
        for length in 0..<bytes.count {
            #expect(throws: ChunkError.self) { try BlockChunk.decode(bytes[..<length]) }
        }
        #expect(throws: ChunkError.unknownEncoding(9)) { try BlockChunk.decode(([9] + bytes.dropFirst())[...]) }
    }

    // MARK: The store with blocks

    private static func labels(_ name: String, _ function: String) -> Labels {
        Labels([(Labels.metricName, name), ("function_name", function)])
    }

    /// `hours` of a counter and a gauge for three functions, a sample a minute, from `start`.
    private static func fill(_ store: TimeSeriesStore, hours: Int64, from start: Int64 = 0) throws -> [Labels: [Sample]]
    {
        var written: [Labels: [Sample]] = [:]
        for minute in 0..<(hours * 60) {
            let time = start + minute * 60_000
            var batch: [(labels: Labels, sample: Sample)] = []
            for (number, function) in ["a", "b", "c"].enumerated() {
                let counter = Sample(timestamp: time, value: Double(minute * Int64(number + 1)))
                let gauge = Sample(timestamp: time, value: Double(minute % 7) / 3)
                batch.append((labels("calls_total", function), counter))
                batch.append((labels("load", function), gauge))
            }
            for entry in batch { written[entry.labels, default: []].append(entry.sample) }
            #expect(try store.append(batch).stored == batch.count)
        }
        return written
    }

    private static func everything(_ store: TimeSeriesStore) throws -> [Labels: [Sample]] {
        let all = try store.select(
            [try LabelMatcher(Labels.metricName, .matchesRegex, ".+")], from: .min, through: .max)
        return Dictionary(uniqueKeysWithValues: all.map { ($0.labels, $0.samples) })
    }

    private static func same(_ a: [Labels: [Sample]], _ b: [Labels: [Sample]]) -> Bool {
        a.count == b.count
            && a.allSatisfy { labels, samples in
                guard let other = b[labels], other.count == samples.count else { return false }
                return zip(samples, other).allSatisfy { $0.isIdentical(to: $1) }
            }
    }

    @Test func theHeadIsCutIntoTwoHourBlocksOnceItSpansThreeAndTheLogShrinks() throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try TimeSeriesStore(directory: path)
        let written = try Self.fill(store, hours: 7)
        let logBefore = store.statistics.logBytes
        let done = try store.maintain(now: 7 * Self.hour)
        // 7 h of head: cut [0, 2h) and [2h, 4h), leaving 3 h (not more than one and a half ranges).
        #expect(done.cut == 2)
        #expect(store.blockRanges.map(\.minTime) == [0, 2 * Self.hour])
        #expect(store.blockRanges.allSatisfy { $0.maxTime - $0.minTime == 2 * Self.hour && $0.level == 1 })
        let statistics = store.statistics
        #expect(statistics.headSamples == 6 * 180 && statistics.blockSamples == 6 * 240)
        #expect(statistics.logBytes < logBefore * 3 / 4, "\(statistics.logBytes) vs \(logBefore)")
        #expect(Self.same(try Self.everything(store), written))
        // A sample for a time a block holds is refused; the head goes on after it.
        let late = try store.append([(Self.labels("load", "a"), Sample(timestamp: Self.hour, value: 1))])
        #expect(late.outOfOrder == 1)
        // After a restart: the blocks, the checkpoint and the segments after it give back every sample.
        let reopened = try TimeSeriesStore(directory: path)
        #expect(reopened.opening.blocks == 2 && reopened.opening.truncatedBytes == 0)
        #expect(Self.same(try Self.everything(reopened), written))
        // A selection that would hold more samples than allowed is refused before the blocks are decoded.
        let all = [try LabelMatcher(Labels.metricName, .matchesRegex, ".+")]
        #expect(throws: PromQLEvaluationError.self) { try reopened.select(all, from: 0, through: .max, atMost: 1_000) }
        #expect(try reopened.select(all, from: 0, through: .max, atMost: 6 * 420).count == 6)
        #expect(reopened.labelSets(all, from: 0, through: Self.hour).count == 6)
        let more = try Self.fill(reopened, hours: 1, from: 7 * Self.hour)
        let again = try TimeSeriesStore(directory: path)
        #expect(Self.same(try Self.everything(again), written.merging(more) { $0 + $1 }))
    }

    @Test func blocksAreMergedIntoLongerOnesAndDeletedByRetention() throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Blocks are merged up to a tenth of the retention (Prometheus's bound): with a day, never.
        let short = try TimeSeriesStore(directory: path, retention: .init(time: 24 * Self.hour))
        _ = try Self.fill(short, hours: 9)
        #expect(try short.maintain(now: 9 * Self.hour).merged == 0)
        #expect(short.blockRanges.map(\.level) == [1, 1, 1])
        try FileManager.default.removeItem(atPath: path)

        // Fifteen days: 2 h blocks make 6 h ones, and those an 18 h one.
        let long = try TimeSeriesStore(directory: path)
        let written = try Self.fill(long, hours: 22)
        let done = try long.maintain(now: 22 * Self.hour)
        #expect(done.cut == 10 && done.merged == 4 && done.deleted == 0)
        #expect(long.blockRanges.map { $0.maxTime / Self.hour } == [18, 20])
        #expect(long.blockRanges.map(\.level) == [3, 1])
        #expect(Self.same(try Self.everything(long), written))
        try FileManager.default.removeItem(atPath: path)

        // Sixty hours: blocks grow to 6 h at most.
        let store = try TimeSeriesStore(directory: path, retention: .init(time: 60 * Self.hour))
        _ = try Self.fill(store, hours: 22)
        try store.maintain(now: 22 * Self.hour)
        #expect(store.blockRanges.map { $0.maxTime / Self.hour } == [6, 12, 18, 20])
        #expect(store.blockRanges.map(\.level) == [2, 2, 2, 1])
        #expect(Self.same(try Self.everything(store), written))
        #expect(try TimeSeriesStore(directory: path).blockRanges.map(\.level) == [2, 2, 2, 1])

        // Retention by time counts back from now.
        let aged = try TimeSeriesStore(directory: path, retention: .init(time: 10 * Self.hour))
        #expect(try aged.maintain(now: 22 * Self.hour).deleted == 2)
        #expect(aged.blockRanges.map { $0.minTime / Self.hour } == [12, 18])
        let oldest = try #require(try Self.everything(aged).values.map { $0.first?.timestamp ?? 0 }.min())
        #expect(oldest == 12 * Self.hour)

        // Retention by size deletes the oldest blocks until the store fits.
        let sizes = aged.statistics
        let limit = sizes.logBytes + sizes.blockBytes - 1
        let small = try TimeSeriesStore(directory: path, retention: .init(time: 10 * Self.hour, bytes: limit))
        #expect(try small.maintain(now: 22 * Self.hour).deleted == 1)
        #expect(small.blockRanges.map { $0.minTime / Self.hour } == [18])
    }

    @Test func aDamagedBlockIsSetAsideAndAnUnfinishedOneRemoved() throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let store = try TimeSeriesStore(directory: path)
            _ = try Self.fill(store, hours: 4)
            try store.persistHead()
            #expect(store.blockRanges.count == 2)
        }
        let blocks = "\(path)/blocks"
        let names = try FileManager.default.contentsOfDirectory(atPath: blocks).sorted()
        // The first block's index loses a byte's worth of truth; a half-written block is left behind.
        let first = "\(blocks)/\(names[0])"
        var bytes = try #require(FileManager.default.contents(atPath: first))
        bytes[bytes.count - Block.footerSize - 3] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: first))
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: "\(blocks)/x.block.tmp"))

        let reopened = try TimeSeriesStore(directory: path)
        #expect(reopened.opening.blocks == 1)
        #expect(reopened.opening.damagedBlocks.count == 1)
        #expect(reopened.opening.damagedBlocks.first?.contains("fails its checksum") == true)
        #expect(FileManager.default.fileExists(atPath: first + ".damaged"))
        #expect(!FileManager.default.fileExists(atPath: "\(blocks)/x.block.tmp"))
        #expect(try Self.everything(reopened).values.allSatisfy { $0.first?.timestamp == 2 * Self.hour })

        // A chunk that no longer matches its checksum fails the query that reads it, with the block's path.
        let second = "\(blocks)/\(names[1])"
        var chunkBytes = try #require(FileManager.default.contents(atPath: second))
        chunkBytes[20] ^= 0x01
        try chunkBytes.write(to: URL(fileURLWithPath: second))
        let damaged = try TimeSeriesStore(directory: path)
        #expect(throws: PromQLEvaluationError.self) { try Self.everything(damaged) }
    }

    @Test func theSourcesOfAFinishedMergeAreRemovedAtStart() throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let written: [Labels: [Sample]]
        var sources: [String: Data] = [:]
        do {
            let store = try TimeSeriesStore(directory: path)
            written = try Self.fill(store, hours: 6)
            try store.persistHead()
            for name in try FileManager.default.contentsOfDirectory(atPath: "\(path)/blocks") {
                sources[name] = FileManager.default.contents(atPath: "\(path)/blocks/\(name)")
            }
            #expect(sources.count == 3)
            _ = try Self.fill(store, hours: 1, from: 6 * Self.hour)
            #expect(try store.maintain(now: 7 * Self.hour).merged == 1)
        }
        // The crash came after the merged block was named and before its sources were deleted.
        for (name, data) in sources { try data.write(to: URL(fileURLWithPath: "\(path)/blocks/\(name)")) }
        let reopened = try TimeSeriesStore(directory: path)
        #expect(reopened.blockRanges.map(\.level) == [2])
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(path)/blocks").count == 1)
        let all = try Self.everything(reopened)
        #expect(Self.same(all.mapValues { $0.filter { $0.timestamp < 6 * Self.hour } }, written))
    }
}
