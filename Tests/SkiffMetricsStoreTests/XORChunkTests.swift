import Foundation
import SkiffPOSIX
import SkiffTestSupport
import Testing

@testable import SkiffMetricsStore

/// Skiff's chunks are Prometheus's, bit for bit: the same samples give the same bytes, and Prometheus's own blocks
/// (written by Debian's promtool) read back to the samples they were made from, cut where Skiff would cut them.
@Suite("XOR chunks")
struct XORChunkTests {
    /// Series of the shapes a store sees, and the awkward ones: constant, counting, noisy floats, special values,
    /// timestamps with jitter and with gaps of every delta-of-delta width (14, 17, 20 and 64 bits). All within
    /// two hours of `start`, so that promtool writes them into one block.
    static func series(start: Int64) -> [[Sample]] {
        var random = SeededGenerator(seed: 42)
        var all: [[Sample]] = []
        all.append((0..<700).map { Sample(timestamp: start + Int64($0) * 1_000, value: 1) })
        var count = 0.0
        all.append(
            (0..<700).map { index in
                count += Double(Int.random(in: 0...20, using: &random))
                return Sample(timestamp: start + Int64(index) * 1_000, value: count)
            })
        var walk = 0.25
        all.append(
            (0..<500).map { index in
                walk += Double.random(in: -1...1, using: &random)
                return Sample(timestamp: start + Int64(index) * 14_000, value: walk)
            })
        let specials: [Double] = [.nan, .infinity, -.infinity, 0, -0.0, .greatestFiniteMagnitude, 1e-300, -42.5]
        all.append((0..<300).map { Sample(timestamp: start + Int64($0) * 1_000, value: specials[$0 % specials.count]) })
        // Steps of 1 s, 1 s ± 25 ms, 9 s, 70 s, 300 s and 600 s: deltas of deltas of every width.
        var time = start
        all.append(
            (0..<40).map { index in
                let jittered = 1_000 + Int64.random(in: -25...25, using: &random)
                time += [1_000, jittered, 9_000, 70_000, 300_000, 600_000][index % 6]
                return Sample(timestamp: time, value: Double(index % 7))
            })
        return all
    }

    @Test func samplesReadBackBitForBitAndAppendingToAReadChunkContinuesIt() throws {
        for samples in Self.series(start: 1_796_580_000_000) {
            var chunk = XORChunk()
            let head = min(200, samples.count - 10)
            for sample in samples.prefix(head) { chunk.append(sample) }
            let read = try chunk.samples()
            #expect(read.count == head)
            #expect(zip(read, samples).allSatisfy { $0.isIdentical(to: $1) })
            // A chunk read from its bytes takes more samples exactly as the one that wrote them would.
            var reopened = try XORChunk(bytes: chunk.bytes)
            var continued = chunk
            for sample in samples.dropFirst(head).prefix(40) {
                reopened.append(sample)
                continued.append(sample)
            }
            #expect(reopened.bytes == continued.bytes)
        }
    }

    @Test func damagedChunksAreRefused() throws {
        var chunk = XORChunk()
        for index in 0..<50 { chunk.append(Sample(timestamp: Int64(index) * 1_000, value: Double(index) * 1.5)) }
        #expect(throws: ChunkError.truncated) { try XORChunk(bytes: Array(chunk.bytes.dropLast(3))) }
        #expect(throws: ChunkError.trailingBytes) { try XORChunk(bytes: chunk.bytes + [0, 0]) }
        #expect(throws: ChunkError.truncated) { try XORChunk(bytes: [0]) }
    }

    /// The blocks promtool makes from OpenMetrics text: each chunk's bytes are what Skiff writes for the samples in
    /// it, the samples are the ones written out, and each series is cut into chunks where Skiff cuts it.
    @Test func prometheussOwnBlocksAreSkiffsChunks() async throws {
        let promtool = "/usr/bin/promtool"
        guard FileManager.default.fileExists(atPath: promtool) else {
            Issue.record("promtool missing: apt install prometheus (scripts/test does)")
            return
        }
        let start: Int64 = 1_796_580_000_000 - 1_796_580_000_000 % ChunkCutter.defaultRange
        let series = Self.series(start: start)
        var text = "# TYPE m gauge\n"
        for (index, samples) in series.enumerated() {
            for sample in samples {
                let seconds = "\(sample.timestamp / 1_000).\(String(format: "%03d", sample.timestamp % 1_000))"
                text += "m{id=\"\(index)\"} \(Self.openMetricsValue(sample.value)) \(seconds)\n"
            }
        }
        text += "# EOF\n"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-xor-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("in.om")
        try Data(text.utf8).write(to: input)
        let output = directory.appendingPathComponent("blocks")
        let outcome = try await ChildProcess(
            promtool, ["tsdb", "create-blocks-from", "openmetrics", input.path, output.path]
        ).run()
        #expect(outcome.succeeded, "\(String(decoding: outcome.standardError, as: UTF8.self))")

        // One block (all the data lies in one two-hour range); its chunks file holds every chunk, series by series
        // in label order (ids 0…4 sort as written) and each series' chunks in time order.
        let blocks = try FileManager.default.contentsOfDirectory(atPath: output.path)
        #expect(blocks.count == 1)
        let chunksFile = output.appendingPathComponent(blocks[0]).appendingPathComponent("chunks/000001")
        let chunks = try Self.readChunksFile(Array(Data(contentsOf: chunksFile)))

        var expected: [[Sample]] = []
        for samples in series {
            var cutter = ChunkCutter()
            var open: [Sample] = []
            for sample in samples {
                let cut = cutter.startsChunk(
                    at: sample.timestamp, count: open.count, first: open.first?.timestamp ?? 0,
                    last: open.last?.timestamp ?? 0)
                if cut && !open.isEmpty {
                    expected.append(open)
                    open = []
                }
                open.append(sample)
            }
            expected.append(open)
        }
        #expect(chunks.count == expected.count)
        for (number, (bytes, samples)) in zip(chunks, expected).enumerated() {
            let read = try XORChunk(bytes: bytes).samples()
            #expect(read.count == samples.count)
            // Prometheus parses NaN to its own NaN bits; every other value and every timestamp are as written.
            let differing = Array(zip(read, samples)).firstIndex { mine, written in
                mine.timestamp != written.timestamp
                    || !(mine.value.bitPattern == written.value.bitPattern || (mine.value.isNaN && written.value.isNaN))
            }
            #expect(
                differing == nil,
                "chunk \(number): sample \(differing ?? 0) \(differing.map { read[$0] }) vs \(differing.map { samples[$0] })"
            )
            var mine = XORChunk()
            for sample in read { mine.append(sample) }
            #expect(mine.bytes == bytes, "chunk \(number)")
        }
    }

    /// OpenMetrics numbers: Swift's shortest round-tripping text, and the special values by their names.
    static func openMetricsValue(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        return "\(value)"
    }

    /// A block's chunks file: an 8-byte header (magic 0x85BD40DD, version 1, padding), then per chunk a uvarint
    /// length, the encoding (1: XOR), the chunk and a CRC32-Castagnoli of encoding and chunk.
    static func readChunksFile(_ bytes: [UInt8]) throws -> [[UInt8]] {
        #expect(bytes.prefix(5) == [0x85, 0xBD, 0x40, 0xDD, 0x01])
        var chunks: [[UInt8]] = []
        var offset = 8
        while offset < bytes.count {
            var reader = BitReader(bytes, from: offset)
            let length = Int(try #require(try reader.readUvarint()))
            offset = bytes.count * 8 - reader.remainingBits
            offset /= 8
            #expect(bytes[offset] == 1)
            chunks.append(Array(bytes[(offset + 1)..<(offset + 1 + length)]))
            offset += 1 + length + 4
        }
        return chunks
    }
}
