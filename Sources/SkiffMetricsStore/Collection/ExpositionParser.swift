/// Reads the Prometheus text exposition (format 0.0.4) that a scrape target answers: `# HELP` and `# TYPE` lines
/// and comments are skipped, every other line is `name{label="value",…} value [timestamp]`. Label values carry
/// `\\`, `\"` and `\n` escapes (no others) and must be UTF-8; values are Go floats (`+Inf`, `-Inf`, `NaN`). A line that is none of these fails
/// the whole scrape, as Prometheus fails it, with the line's number.
enum ExpositionParser {
    struct Line: Equatable {
        var labels: Labels
        var value: Double
        /// Milliseconds, when the target gave one.
        var timestamp: Int64?
    }

    struct Failure: Error, Equatable, CustomStringConvertible {
        let line: Int
        let reason: String
        var description: String { "line \(line): \(reason)" }
    }

    static func parse(_ bytes: [UInt8], limit: Int) throws(Failure) -> [Line] {
        var lines: [Line] = []
        var number = 0
        var start = 0
        while start < bytes.count {
            number += 1
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
            var reader = LineReader(bytes: bytes, position: start, end: end)
            start = end + 1
            reader.skipBlanks()
            guard !reader.atEnd, reader.peek != UInt8(ascii: "#") else { continue }
            guard let line = reader.sample() else { throw Failure(line: number, reason: reader.problem) }
            guard lines.count < limit else {
                throw Failure(line: number, reason: "more than \(limit) samples (the scrape's sample limit)")
            }
            lines.append(line)
        }
        return lines
    }

    private struct LineReader {
        let bytes: [UInt8]
        var position: Int
        let end: Int
        var problem = "not a sample"

        var atEnd: Bool { position >= end }
        var peek: UInt8 { bytes[position] }

        mutating func skipBlanks() {
            while !atEnd, peek == UInt8(ascii: " ") || peek == UInt8(ascii: "\t") { position += 1 }
        }

        mutating func sample() -> Line? {
            guard let name = name(allowingColons: true) else {
                problem = "expected a metric name"
                return nil
            }
            var pairs: [(String, String)] = [(Labels.metricName, name)]
            skipBlanks()
            if !atEnd, peek == UInt8(ascii: "{") {
                position += 1
                guard let labels = labels() else { return nil }
                pairs += labels
            }
            skipBlanks()
            let valueStart = position
            while !atEnd, peek != UInt8(ascii: " "), peek != UInt8(ascii: "\t") { position += 1 }
            let valueText = String(decoding: bytes[valueStart..<position], as: UTF8.self)
            guard let value = Self.float(valueText) else {
                problem = "\"\(valueText.prefix(40))\" is not a value"
                return nil
            }
            skipBlanks()
            var timestamp: Int64?
            if !atEnd {
                let timeStart = position
                while !atEnd, peek != UInt8(ascii: " "), peek != UInt8(ascii: "\t") { position += 1 }
                guard let time = Int64(String(decoding: bytes[timeStart..<position], as: UTF8.self)) else {
                    problem = "the timestamp is not whole milliseconds"
                    return nil
                }
                timestamp = time
                skipBlanks()
                guard atEnd else {
                    problem = "unexpected text after the timestamp"
                    return nil
                }
            }
            return Line(labels: Labels(pairs), value: value, timestamp: timestamp)
        }

        mutating func labels() -> [(String, String)]? {
            var pairs: [(String, String)] = []
            var names = Set<String>()
            while true {
                skipBlanks()
                guard !atEnd else {
                    problem = "the label set is not closed"
                    return nil
                }
                if peek == UInt8(ascii: "}") {
                    position += 1
                    return pairs
                }
                guard let name = name(allowingColons: false) else {
                    problem = "expected a label name"
                    return nil
                }
                guard names.insert(name).inserted else {
                    problem = "label \(name) is given twice"
                    return nil
                }
                skipBlanks()
                guard !atEnd, peek == UInt8(ascii: "=") else {
                    problem = "expected = after label \(name)"
                    return nil
                }
                position += 1
                skipBlanks()
                guard let value = quoted() else {
                    problem = "label \(name)'s value is not a quoted string"
                    return nil
                }
                pairs.append((name, value))
                skipBlanks()
                if !atEnd, peek == UInt8(ascii: ",") { position += 1 }
            }
        }

        mutating func name(allowingColons: Bool) -> String? {
            let start = position
            while !atEnd {
                let byte = peek
                let letter = (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
                let digit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
                guard
                    letter || byte == UInt8(ascii: "_") || (allowingColons && byte == UInt8(ascii: ":"))
                        || (digit && position > start)
                else { break }
                position += 1
            }
            return position > start ? String(decoding: bytes[start..<position], as: UTF8.self) : nil
        }

        mutating func quoted() -> String? {
            guard !atEnd, peek == UInt8(ascii: "\"") else { return nil }
            position += 1
            var value: [UInt8] = []
            while !atEnd {
                let byte = peek
                position += 1
                if byte == UInt8(ascii: "\"") { return String(validating: value, as: UTF8.self) }
                if byte == UInt8(ascii: "\\") {
                    guard !atEnd else { return nil }
                    let escaped = peek
                    position += 1
                    switch escaped {
                    case UInt8(ascii: "n"): value.append(UInt8(ascii: "\n"))
                    case UInt8(ascii: "\\"), UInt8(ascii: "\""): value.append(escaped)
                    default: return nil
                    }
                } else {
                    value.append(byte)
                }
            }
            return nil
        }

        static func float(_ text: String) -> Double? {
            switch text {
            case "+Inf", "Inf", "+inf", "inf": return .infinity
            case "-Inf", "-inf": return -.infinity
            case "NaN", "nan": return .nan
            default:
                guard let first = text.utf8.first, first != UInt8(ascii: "i"), first != UInt8(ascii: "n") else {
                    return nil
                }
                return Double(text)
            }
        }
    }
}
