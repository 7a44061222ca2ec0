import Foundation

/// RFC 3339 with nanoseconds in UTC, as Go's time.Time marshals.
enum GoTime {
    static func format(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let nanoseconds = Int(((date.timeIntervalSince1970 - seconds) * 1e9).rounded())
        var time = Int(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var text = String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        if nanoseconds > 0 {
            var fraction = String(format: "%09d", min(nanoseconds, 999_999_999))
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text + "Z"
    }

    /// RFC 3339 (any offset, optional fraction), as Go's time.Parse(time.RFC3339, …) accepts.
    static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        // More than three fraction digits: drop the fraction beyond milliseconds.
        if let dot = text.firstIndex(of: "."),
            let end = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" })
        {
            let digits = text[text.index(after: dot)..<end]
            let trimmed = text[..<dot] + "." + digits.prefix(3) + text[end...]
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return formatter.date(from: String(trimmed))
        }
        return nil
    }
}
