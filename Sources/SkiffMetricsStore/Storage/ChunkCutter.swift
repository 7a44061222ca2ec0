/// When a series' open chunk is closed and the next begun, by Prometheus 2.42's rules, so that Skiff's chunks
/// hold the samples Prometheus's would: about 120 per chunk, the end of a chunk predicted once it holds 30 so that
/// the rest of the 2-hour range splits evenly, never across a 2-hour boundary, and at the latest at 240.
struct ChunkCutter: Sendable {
    static let samplesPerChunk = 120
    /// Two hours in milliseconds: chunks (and later blocks) never cross a multiple of it.
    static let defaultRange: Int64 = 2 * 3_600 * 1_000

    let range: Int64
    /// When the open chunk is cut at the latest.
    private var nextAt: Int64 = .min

    init(range: Int64 = Self.defaultRange) {
        self.range = range
    }

    /// Whether a sample at `timestamp` begins a new chunk, given the open chunk's sample count and first and last
    /// timestamps (count 0: there is none yet, and the sample begins the first).
    mutating func startsChunk(at timestamp: Int64, count: Int, first: Int64, last: Int64) -> Bool {
        if count == 0 {
            nextAt = Self.rangeEnd(timestamp, range)
            return true
        }
        if count == Self.samplesPerChunk / 4 {
            nextAt = Self.predictedEnd(start: first, current: last, max: nextAt)
        }
        guard timestamp >= nextAt || count >= Self.samplesPerChunk * 2 else { return false }
        nextAt = Self.rangeEnd(timestamp, range)
        return true
    }

    /// The end of the range `timestamp` falls in (Go's truncating division, as Prometheus computes it).
    static func rangeEnd(_ timestamp: Int64, _ width: Int64) -> Int64 {
        (timestamp / width) * width + width
    }

    /// Splits what is left of the range into chunks of the size the first quarter of this one predicts.
    static func predictedEnd(start: Int64, current: Int64, max: Int64) -> Int64 {
        let chunks = (max - start) / ((current - start + 1) * 4)
        guard chunks > 1 else { return max }
        return start + (max - start) / chunks
    }
}
