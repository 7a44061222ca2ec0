/// One value of a series at one time: milliseconds since 1970 and a float, as Prometheus stores it.
public struct Sample: Sendable, Equatable {
    public var timestamp: Int64
    public var value: Double

    public init(timestamp: Int64, value: Double) {
        self.timestamp = timestamp
        self.value = value
    }

    /// Equal bit for bit: NaNs compare by their bits (the staleness marker is a NaN with its own pattern).
    public func isIdentical(to other: Sample) -> Bool {
        timestamp == other.timestamp && value.bitPattern == other.value.bitPattern
    }

    /// The value Prometheus writes to end a series (a scrape that no longer has it, a target gone).
    public static let staleNaN = Double(bitPattern: 0x7FF0_0000_0000_0002)
}
