import Foundation
import Synchronization

/// Reads `ctr images pull`'s progress table, which it redraws every 100 ms whether or not it writes to a terminal:
/// a line per blob (`layer-sha256:…: downloading |++--| 9.0 MiB/140.4 MiB`, or `done`, `exists`, `waiting`) and
/// an `elapsed: … total: …` line closing each frame. At the end of a frame it tells the bytes so far of the blobs
/// whose size it has seen. ctr cuts figures short when they widen (`110.0 Mi/140.4 MiB`): a figure without its
/// whole unit takes the unit of the size beside it.
public final class PullMeter: Sendable {
    private let activity: String
    private let blobs = Mutex<[String: (done: Double, total: Double)]>([:])

    public init(activity: String) { self.activity = activity }

    /// Every blob seen is whole: what to show once ctr has succeeded.
    public func finished() -> TransferProgress {
        let total = blobs.withLock { table in
            for (key, value) in table { table[key] = (value.total, value.total) }
            return table.values.reduce(0) { $0 + $1.total }
        }
        return TransferProgress(activity: activity, done: Int(total), total: Int(total))
    }

    /// Feeds one line; returns the progress when the line closes a frame.
    public func read(_ raw: String) -> TransferProgress? {
        let line = Self.withoutEscapes(raw)
        if line.hasPrefix("elapsed:") {
            let totals = blobs.withLock { $0.values.reduce((0.0, 0.0)) { ($0.0 + $1.done, $0.1 + $1.total) } }
            return TransferProgress(activity: activity, done: Int(totals.0), total: Int(totals.1))
        }
        guard let colon = line.range(of: ": ", options: .backwards) else { return nil }
        let key = String(line[..<colon.lowerBound])
        let rest = line[colon.upperBound...].trimmingCharacters(in: .whitespaces)
        let status = rest.prefix { $0 != " " }
        if status == "done" || status == "exists" {
            blobs.withLock { table in
                if let known = table[key] { table[key] = (known.total, known.total) }
            }
            return nil
        }
        guard let bar = rest.lastIndex(of: "|") else { return nil }
        let figures = rest[rest.index(after: bar)...].trimmingCharacters(in: .whitespaces)
        let parts = figures.split(separator: "/", maxSplits: 1)
        guard parts.count == 2, let total = Self.bytes(String(parts[1]), unitIfCut: nil) else { return nil }
        let totalUnit = String(parts[1].split(separator: " ").last ?? "B")
        let done = Self.bytes(String(parts[0]), unitIfCut: totalUnit) ?? 0
        blobs.withLock { $0[key] = (min(done, total), total) }
        return nil
    }

    private static func withoutEscapes(_ text: String) -> String {
        var result = ""
        var inEscape = false
        for scalar in text.unicodeScalars {
            if inEscape {
                if scalar.properties.isAlphabetic { inEscape = false }
            } else if scalar == "\u{1B}" {
                inEscape = true
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// "9.0 MiB", "140.4 MiB", "512 B", "110.0 Mi" (cut: takes `unitIfCut`).
    static func bytes(_ text: String, unitIfCut: String?) -> Double? {
        let words = text.split(separator: " ")
        guard let first = words.first, let number = Double(first) else { return nil }
        let factors: [String: Double] = [
            "B": 1, "KiB": 1024, "MiB": 1_048_576, "GiB": 1_073_741_824, "TiB": 1_099_511_627_776,
        ]
        let unit = words.count > 1 ? String(words[1]) : ""
        if let factor = factors[unit] { return number * factor }
        guard let fallback = unitIfCut, let factor = factors[fallback] else { return number }
        return number * factor
    }
}
