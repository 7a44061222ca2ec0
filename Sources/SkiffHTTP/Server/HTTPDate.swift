import Glibc
import SkiffPOSIX

/// The `Date` header value (IMF-fixdate), formatted without Foundation and cached per second by each loop.
enum HTTPDate {
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n` for the given Unix time.
    static func headerLine(unixTime: Int) -> [UInt8] {
        var t = time_t(unixTime)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let text =
            "Date: \(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT\r\n"
        return Array(text.utf8)
    }

    static func currentUnixTime() -> Int { wallClockNow().seconds }
}
