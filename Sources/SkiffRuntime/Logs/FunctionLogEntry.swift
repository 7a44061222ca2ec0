import Foundation
import SkiffPOSIX

/// One line a replica wrote, or a line Skiff wrote about it (a crash, a restart).
public struct FunctionLogEntry: Sendable, Equatable {
    public var name: String
    public var namespace: String
    /// The replica (container id).
    public var instance: String
    public var timestamp: Date
    public var text: String
    /// `stdout`, `stderr`, or `skiff` for the runtime's own notes.
    public var stream: String
}

public struct LogQuery: Sendable {
    public var name: String
    public var namespace: String
    public var since: Date?
    /// The last N lines (before following); nil for all.
    public var tail: Int?
    public var follow: Bool

    public init(name: String, namespace: String, since: Date? = nil, tail: Int? = nil, follow: Bool = false) {
        self.name = name
        self.namespace = namespace
        self.since = since
        self.tail = tail
        self.follow = follow
    }
}

/// Timestamps in log files: RFC 3339 UTC with nanoseconds, fixed width, so files sort and parse cheaply.
enum LogTimestamp {
    static func now() -> String {
        let now = wallClockNow()
        return format(seconds: now.seconds, nanoseconds: now.nanoseconds)
    }

    static func format(seconds: Int, nanoseconds: Int) -> String {
        var time = seconds
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let fraction = String(nanoseconds)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + String(repeating: "0", count: max(0, 9 - fraction.count)) + fraction + "Z"
    }

    /// Parses what `format` wrote (and any RFC 3339 UTC time with 0–9 fraction digits).
    static func parse(_ text: Substring) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard bytes[index] >= 0x30 && bytes[index] <= 0x39 else { return nil }
                value = value * 10 + Int(bytes[index] - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = timegm(&parts)
        var fraction = 0.0
        if bytes[19] == UInt8(ascii: ".") {
            var scale = 0.1
            var index = 20
            while index < bytes.count, bytes[index] >= 0x30 && bytes[index] <= 0x39 {
                fraction += Double(bytes[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
        }
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }
}
