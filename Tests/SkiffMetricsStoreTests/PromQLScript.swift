import Foundation

@testable import SkiffMetricsStore

/// Prometheus 2.42's PromQL test scripts (`promqltest`'s format), run through Skiff's store and engine:
/// `load` blocks fill a fresh store, `clear` empties it, and each `eval` is checked as Prometheus's runner checks
/// it (instant at its time, then as a range query from a minute before to a minute after, whose middle step must
/// agree; values equal within a relative 1e-6, NaN equal to NaN; `eval_ordered` in order; `eval_fail` must fail).
struct PromQLScript {
    struct Outcome {
        var passed = 0
        var total = 0
        var failures: [String] = []
    }

    let name: String
    let lines: [Substring]
    /// Evaluates with every sample in blocks on disk instead of the head: before an eval that follows new `load`s,
    /// a fresh store gets the same appends and writes its head into blocks.
    let throughBlocks: Bool

    init(name: String, text: String, throughBlocks: Bool = false) {
        self.name = name
        lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        self.throughBlocks = throughBlocks
    }

    func run() throws -> Outcome {
        var outcome = Outcome()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-promql-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var stores = 0
        func freshStore() throws -> TimeSeriesStore {
            stores += 1
            return try TimeSeriesStore(directory: root.appendingPathComponent("\(stores)").path)
        }
        var store = try freshStore()
        var batches: [[(labels: Labels, sample: Sample)]] = []
        var loadedSinceEval = false
        var index = 0
        while index < lines.count {
            let line = lines[index].trimmingCharacters(in: .whitespaces)
            index += 1
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line == "clear" {
                store = try freshStore()
                batches = []
            } else if line.hasPrefix("load ") {
                let interval = try Self.duration(String(line.dropFirst(5)))
                // A series given twice is the later line's, as Prometheus's loader keeps it.
                var bySeries: [Labels: [Sample]] = [:]
                while index < lines.count, Self.isIndented(lines[index]) {
                    let (labels, samples) = try Self.series(lines[index], interval: interval)
                    bySeries[labels] = samples
                    index += 1
                }
                let batch = bySeries.flatMap { series in series.value.map { (labels: series.key, sample: $0) } }
                try store.append(batch)
                batches.append(batch)
                loadedSinceEval = true
            } else if line.hasPrefix("eval") {
                if throughBlocks && loadedSinceEval {
                    store = try freshStore()
                    for batch in batches { try store.append(batch) }
                    try store.persistHead()
                    loadedSinceEval = false
                }
                var expected: [String] = []
                while index < lines.count, Self.isIndented(lines[index]) {
                    expected.append(lines[index].trimmingCharacters(in: .whitespaces))
                    index += 1
                }
                outcome.total += 1
                do {
                    try check(line, expected: expected, store: store)
                    outcome.passed += 1
                } catch {
                    outcome.failures.append("\(name): \(line): \(error)")
                }
            }
        }
        return outcome
    }

    /// A line that belongs to the command above it: indented and not blank.
    static func isIndented(_ line: Substring) -> Bool {
        (line.first == " " || line.first == "\t") && !line.allSatisfy { $0 == " " || $0 == "\t" }
    }

    struct Mismatch: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    private func check(_ line: String, expected: [String], store: TimeSeriesStore) throws {
        let words = line.split(separator: " ", maxSplits: 4)
        guard words.count == 5, words[1] == "instant", words[2] == "at" else { throw Mismatch("unknown command") }
        let command = words[0]
        let time = try Self.duration(String(words[3]))
        let query = String(words[4])
        let engine = PromQLEngine(source: store)
        let expression: PromQLExpression
        let value: PromQLValue
        do {
            expression = try PromQLParser.parse(query)
            value = try engine.instant(expression, at: time)
        } catch {
            if command == "eval_fail" { return }
            throw Mismatch("error: \(error)")
        }
        if command == "eval_fail" { throw Mismatch("expected an error") }
        let wanted = try expected.map(Self.expectedLine)
        try compare(value, wanted, ordered: command == "eval_ordered")
        // The same in range mode, a minute either side: the middle step must agree.
        guard command != "eval_ordered" else { return }
        let series = try engine.range(expression, start: time - 60_000, end: time + 60_000, step: 60_000)
        var middle: [VectorElement] = []
        for one in series {
            if let point = one.samples.first(where: { $0.timestamp == time }) {
                middle.append(VectorElement(labels: one.labels, value: point.value))
            }
        }
        if case .scalar = value {
            try compare(.scalar(middle.first?.value ?? .nan), wanted, ordered: false)
        } else {
            try compare(.vector(middle), wanted, ordered: false)
        }
    }

    private func compare(_ value: PromQLValue, _ wanted: [(Labels?, Double)], ordered: Bool) throws {
        switch value {
        case .scalar(let number):
            guard wanted.count == 1, wanted[0].0 == nil, Self.almostEqual(number, wanted[0].1) else {
                throw Mismatch("got scalar \(number), expected \(wanted)")
            }
        case .vector(let elements):
            guard elements.count == wanted.count else {
                throw Mismatch(
                    "got \(elements.count) elements \(elements.map { "\($0.labels) \($0.value)" }), expected \(wanted.count)"
                )
            }
            for (position, element) in elements.enumerated() {
                guard let match = wanted.firstIndex(where: { $0.0 == element.labels }) else {
                    throw Mismatch("unexpected element \(element.labels) \(element.value)")
                }
                if ordered && match != position {
                    throw Mismatch("\(element.labels) at \(position), expected at \(match)")
                }
                guard Self.almostEqual(element.value, wanted[match].1) else {
                    throw Mismatch("\(element.labels): got \(element.value), expected \(wanted[match].1)")
                }
            }
        default:
            throw Mismatch("a range vector or string, which no script expects")
        }
    }

    static func almostEqual(_ a: Double, _ b: Double) -> Bool {
        if a.isNaN && b.isNaN { return true }
        if a == b { return true }
        let difference = abs(a - b)
        if a == 0 || b == 0 || difference < Double.leastNormalMagnitude {
            return difference < 1e-6 * Double.leastNormalMagnitude
        }
        return difference / (abs(a) + abs(b)) < 1e-6
    }

    static func duration(_ text: String) throws -> Int64 {
        guard let token = try Lexer.tokens(text).first, case .duration(let milliseconds) = token.kind else {
            throw Mismatch("not a duration: \(text)")
        }
        return milliseconds
    }

    /// `name{a="b", …}` or `{…}` (labels), then the rest of the line.
    static func labels(_ text: Substring) throws -> (Labels, Substring) {
        var rest = text.drop { $0 == " " || $0 == "\t" }
        var pairs: [(String, String)] = []
        let name = rest.prefix { $0 != "{" && $0 != " " && $0 != "\t" }
        if !name.isEmpty { pairs.append((Labels.metricName, String(name))) }
        rest = rest.dropFirst(name.count)
        if rest.first == "{" {
            guard let close = Self.closingBrace(rest) else { throw Mismatch("unclosed braces: \(text)") }
            let tokens = try Lexer.tokens(String(rest[rest.index(after: rest.startIndex)..<close]))
            var index = 0
            while index + 2 < tokens.count {
                guard case .identifier(let label) = tokens[index].kind, case .string(let value) = tokens[index + 2].kind
                else { throw Mismatch("bad labels: \(text)") }
                pairs.append((label, value))
                index += tokens.count > index + 3 && tokens[index + 3].kind == .comma ? 4 : 3
            }
            rest = rest[rest.index(after: close)...]
        }
        return (Labels(pairs), rest)
    }

    /// The `}` closing the braces `text` starts with (quoted braces skipped).
    private static func closingBrace(_ text: Substring) -> Substring.Index? {
        var quoted = false
        var escaped = false
        for index in text.indices {
            let character = text[index]
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if character == "}" && !quoted {
                return index
            }
        }
        return nil
    }

    /// A series line of a `load` block: its samples at 0, interval, 2 × interval, …
    static func series(_ line: Substring, interval: Int64) throws -> (Labels, [Sample]) {
        let (labels, rest) = try self.labels(line)
        var samples: [Sample] = []
        var step: Int64 = 0
        for item in rest.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            for value in try expand(String(item)) {
                if let value { samples.append(Sample(timestamp: step * interval, value: value)) }
                step += 1
            }
        }
        return (labels, samples)
    }

    /// `a+bxn`, `a-bxn`, `axn`, `_`, `_xn`, `stale`, a number: the values (nil for a gap).
    static func expand(_ item: String) throws -> [Double?] {
        if item == "_" { return [nil] }
        if item == "stale" { return [Sample.staleNaN] }
        if item.hasPrefix("_x"), let count = Int(item.dropFirst(2)) { return Array(repeating: nil, count: count) }
        guard let x = item.lastIndex(of: "x"), let count = Int(item[item.index(after: x)...]) else {
            return [try number(item)]
        }
        let body = item[..<x]
        // The step's sign: the last + or - that is not at the start and not an exponent's.
        var split: String.Index?
        for index in body.indices.dropFirst() where "+-".contains(body[index]) {
            let before = body[body.index(before: index)]
            if before != "e" && before != "E" { split = index }
        }
        if let split {
            let start = try number(String(body[..<split]))
            let increment = try number(String(body[split...]))
            return (0...count).map { start + Double($0) * increment }
        }
        let value = try number(String(body))
        return Array(repeating: value, count: count + 1)
    }

    /// A number as Prometheus's API writes it (`"NaN"`, `"+Inf"`, decimals); NaN for anything else.
    static func almostNumber(_ text: String) -> Double { (try? number(text)) ?? .nan }

    static func number(_ text: String) throws -> Double {
        switch text.lowercased() {
        case "nan": return .nan
        case "inf", "+inf": return .infinity
        case "-inf": return -.infinity
        default:
            guard let value = Double(text) else { throw Mismatch("not a number: \(text)") }
            return value
        }
    }

    /// An expected result line: labels and a value, or a bare number (a scalar).
    static func expectedLine(_ line: String) throws -> (Labels?, Double) {
        if let value = try? number(line) { return (nil, value) }
        let (labels, rest) = try labels(Substring(line))
        return (labels, try number(rest.trimmingCharacters(in: .whitespaces)))
    }
}
