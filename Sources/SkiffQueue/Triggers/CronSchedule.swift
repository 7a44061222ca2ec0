import Foundation
import SkiffPOSIX

/// A schedule as OpenFaaS's cron-connector reads it: five fields (minute, hour, day of month, month, day of
/// week) with `*`, lists, ranges, steps and names (`jan`, `mon`), or `@yearly`, `@monthly`, `@weekly`, `@daily`,
/// `@hourly` and `@every DURATION` (a Go duration, at least one second).
public struct CronSchedule: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case fields(Fields)
        case every(Duration)
    }

    struct Fields: Sendable, Equatable {
        var minutes: Set<Int>
        var hours: Set<Int>
        var days: Set<Int>
        var months: Set<Int>
        /// 0 is Sunday (7 is read as 0).
        var weekdays: Set<Int>
        /// Whether day of month and day of week were restricted: when both are, either may match (as cron does).
        var daysRestricted: Bool
        var weekdaysRestricted: Bool
    }

    let kind: Kind
    public let text: String

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    public init(_ text: String) throws(Invalid) {
        self.text = text
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let descriptors = [
            "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
            "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
        ]
        if trimmed.hasPrefix("@every ") {
            let value = trimmed.dropFirst(7).trimmingCharacters(in: .whitespaces)
            guard let interval = Duration(goSyntax: value), interval >= .seconds(1) else {
                throw Invalid(description: "'\(text)': @every needs a duration of at least 1s, such as 30s or 1h30m")
            }
            kind = .every(interval)
            return
        }
        let expanded = descriptors[trimmed.lowercased()] ?? trimmed
        let parts = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard parts.count == 5 else {
            throw Invalid(
                description: "'\(text)' is not a schedule: five fields (minute hour day month weekday) or "
                    + "@hourly, @daily, @weekly, @monthly, @yearly, @every DURATION")
        }
        let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        let weekdays = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        var weekdaySet = try Self.field(parts[4], 0...7, names: weekdays, what: "day of week", in: text)
        if weekdaySet.remove(7) != nil { weekdaySet.insert(0) }
        kind = .fields(
            Fields(
                minutes: try Self.field(parts[0], 0...59, what: "minute", in: text),
                hours: try Self.field(parts[1], 0...23, what: "hour", in: text),
                days: try Self.field(parts[2], 1...31, what: "day of month", in: text),
                months: try Self.field(parts[3], 1...12, names: months, nameBase: 1, what: "month", in: text),
                weekdays: weekdaySet, daysRestricted: parts[2] != "*" && parts[2] != "?",
                weekdaysRestricted: parts[4] != "*" && parts[4] != "?"))
    }

    private static func field(
        _ text: String, _ range: ClosedRange<Int>, names: [String] = [], nameBase: Int = 0, what: String,
        in schedule: String
    ) throws(Invalid) -> Set<Int> {
        func value(_ token: Substring) throws(Invalid) -> Int {
            if let number = Int(token), range.contains(number) { return number }
            if let index = names.firstIndex(of: token.lowercased()) { return index + nameBase }
            throw Invalid(description: "'\(schedule)': \(what) '\(token)' is not within \(range)")
        }
        var result: Set<Int> = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = item.split(separator: "/", omittingEmptySubsequences: false)
            guard (1...2).contains(pieces.count) else {
                throw Invalid(description: "'\(schedule)': bad \(what) '\(item)'")
            }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed > 0 else {
                    throw Invalid(description: "'\(schedule)': bad step in \(what) '\(item)'")
                }
                step = parsed
            }
            let span: ClosedRange<Int>
            if pieces[0] == "*" || pieces[0] == "?" {
                span = range
            } else if let dash = pieces[0].firstIndex(of: "-") {
                let low = try value(pieces[0][..<dash])
                let high = try value(pieces[0][pieces[0].index(after: dash)...])
                guard low <= high else {
                    throw Invalid(description: "'\(schedule)': \(what) range '\(item)' runs backwards")
                }
                span = low...high
            } else {
                let start = try value(pieces[0])
                span = start...(pieces.count == 2 ? range.upperBound : start)
            }
            result.formUnion(stride(from: span.lowerBound, through: span.upperBound, by: step))
        }
        return result
    }

    /// The first firing strictly after `date`; nil when the fields never match (the 30th of February).
    public func next(after date: Date, in timeZone: TimeZone = TimeZone(identifier: "UTC") ?? .current) -> Date? {
        switch kind {
        case .every(let interval):
            return date.addingTimeInterval(interval.seconds)
        case .fields(let fields):
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = timeZone
            // The next whole minute after `date`.
            var candidate = calendar.dateInterval(of: .minute, for: date)?.end ?? date
            // Each step moves to the start of the next month, day, hour or minute that could match: a few
            // hundred steps cover years.
            for _ in 0..<100_000 {
                let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .weekday], from: candidate)
                guard let month = parts.month, let day = parts.day, let hour = parts.hour, let minute = parts.minute,
                    let weekday = parts.weekday
                else { return nil }
                if !fields.months.contains(month) {
                    candidate = calendar.dateInterval(of: .month, for: candidate)?.end ?? candidate
                    continue
                }
                let dayMatches = fields.days.contains(day)
                let weekdayMatches = fields.weekdays.contains(weekday - 1)
                let dayOK =
                    fields.daysRestricted && fields.weekdaysRestricted
                    ? (dayMatches || weekdayMatches) : (dayMatches && weekdayMatches)
                if !dayOK {
                    candidate = calendar.dateInterval(of: .day, for: candidate)?.end ?? candidate
                    continue
                }
                if !fields.hours.contains(hour) {
                    candidate = calendar.dateInterval(of: .hour, for: candidate)?.end ?? candidate
                    continue
                }
                if !fields.minutes.contains(minute) {
                    candidate = calendar.dateInterval(of: .minute, for: candidate)?.end ?? candidate
                    continue
                }
                return candidate
            }
            return nil
        }
    }
}
