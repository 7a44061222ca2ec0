import Foundation
import Testing

@testable import SkiffMetricsStore

/// PromQL as Prometheus 2.42 reads it: every query of Prometheus's own test scripts parses (those expected to fail
/// fail only when evaluated), prints back in a form that parses to the same expression, and the mistakes
/// Prometheus refuses at parse time are refused.
@Suite("PromQL parser")
struct PromQLParserTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/promql")

    /// The expression of every `eval`, `eval_ordered` and `eval_fail` line of the scripts, with where it is.
    static func scriptQueries() throws -> [(place: String, query: String)] {
        let files = try FileManager.default.contentsOfDirectory(atPath: fixtures.path).filter { $0.hasSuffix(".test") }
        var queries: [(String, String)] = []
        for file in files.sorted() {
            let text = try String(contentsOf: fixtures.appendingPathComponent(file), encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let words = line.split(separator: " ", maxSplits: 4)
                guard words.count == 5, words[0].hasPrefix("eval"), words[1] == "instant", words[2] == "at" else {
                    continue
                }
                queries.append(("\(file):\(number + 1)", String(words[4])))
            }
        }
        return queries
    }

    @Test func everyQueryOfPrometheussScriptsParsesAndPrintsBack() throws {
        let queries = try Self.scriptQueries()
        #expect(queries.count == 566)
        for (place, query) in queries {
            do {
                let parsed = try PromQLParser.parse(query)
                let printed = parsed.description
                let again = try PromQLParser.parse(printed)
                #expect(again == parsed, "\(place): \(query) printed as \(printed)")
            } catch {
                Issue.record("\(place): \(query): \(error)")
            }
        }
    }

    @Test(arguments: [
        ("1 + 2 * 3", "1 + 2 * 3", 7.0), ("2 ^ 3 ^ 2", "2 ^ 3 ^ 2", 512), ("-2 ^ 2", "-2 ^ 2", -4),
        ("(1 + 2) * 3", "(1 + 2) * 3", 9), ("10 - 4 - 3", "10 - 4 - 3", 3), ("2 * 3 % 4", "2 * 3 % 4", 2),
    ])
    func operatorsBindAsInPrometheus(query: String, printed: String, value: Double) throws {
        let parsed = try PromQLParser.parse(query)
        #expect(parsed.description == printed)
        #expect(Self.evaluateScalar(parsed) == value)
    }

    /// Just enough arithmetic to see how the tree was built.
    static func evaluateScalar(_ expression: PromQLExpression) -> Double? {
        switch expression {
        case .number(let value): return value
        case .parenthesised(let inner): return evaluateScalar(inner)
        case .negate(let inner): return evaluateScalar(inner).map { -$0 }
        case .binary(let binary):
            guard let a = evaluateScalar(binary.lhs), let b = evaluateScalar(binary.rhs) else { return nil }
            switch binary.op {
            case "+": return a + b
            case "-": return a - b
            case "*": return a * b
            case "/": return a / b
            case "%": return a.truncatingRemainder(dividingBy: b)
            case "^": return pow(a, b)
            default: return nil
            }
        default: return nil
        }
    }

    @Test func selectorsAggregationsAndModifiersAreReadWhole() throws {
        let parsed = try PromQLParser.parse(
            #"sum without (instance) (rate(http_requests_total{job=~"api|web", code!="500"}[5m] offset -1m @ 1600.5))"#)
        guard case .aggregate(let sum) = parsed, case .call("rate", let arguments) = sum.expression,
            case .matrix(let selector, let range) = arguments.first
        else {
            Issue.record("unexpected tree: \(parsed)")
            return
        }
        #expect(sum.without && sum.grouping == ["instance"] && range == 300_000)
        #expect(selector.name == "http_requests_total" && selector.matchers.count == 3)
        #expect(selector.modifiers == TimeModifiers(offset: -60_000, at: .time(1_600_500)))
        let joined = try PromQLParser.parse(#"a * on (x, y) group_left (z) b"#)
        guard case .binary(let binary) = joined else { return }
        #expect(
            binary.on && binary.matching == ["x", "y"] && binary.cardinality == .manyToOne && binary.include == ["z"])
        let subquery = try PromQLParser.parse("max_over_time(deriv(x[1m])[1h30m:15s] @ end())")
        #expect(subquery.description == "max_over_time(deriv(x[1m])[1h30m:15s] @ end())")
        #expect(try PromQLParser.parse("topk(3, x) by (a)").description == "topk by (a) (3, x)")
        #expect(try PromQLParser.parse(#"{__name__="x", a='b\'c'}"#).description == #"{__name__="x",a="b'c"}"#)
        #expect(try PromQLParser.parse("x # a comment\n + 0x10").description == "x + 16")
    }

    @Test(arguments: [
        ("1 > 2", "comparisons between scalars must use BOOL modifier"),
        (#"{a=""}"#, "vector selector must contain at least one non-empty matcher"),
        ("rate(x)", #"expected type range vector in call to function "rate", got instant vector"#),
        ("sum(x, y)", "wrong number of arguments for aggregate expression provided, expected 1, got 2"),
        ("topk(x)", "wrong number of arguments for aggregate expression provided, expected 2, got 1"),
        ("x offset 1m offset 2m", "offset may not be set multiple times"),
        ("(x)[5m]", "ranges only allowed for vector selectors"),
        ("nope(x)", #"unknown function with name "nope""#),
        (#""a" + 1"#, "binary expression must contain only scalar and instant vector types"),
        ("x and 1", #"set operator "and" not allowed in binary scalar expression"#),
        ("x + on(a) 1", "vector matching only allowed between instant vectors"),
        ("x + bool y", "bool modifier can only be used on comparison operators"),
        ("round(x, 1, 2)", #"expected at most 2 argument(s) in call to "round", got 3"#),
        (#"x{a="b"#, "unterminated quoted string"), ("x[5mm]", "bad duration syntax"),
        ("x[1m1h]", "bad duration syntax"),
        (#"x{a=~"("}"#, "1:3: parse error: error parsing regexp: missing closing ): `^(?:()$`"),
        ("x +", "unexpected end of input"),
        ("sum(x) by (a) by (b)", #"unexpected identifier "by""#), ("x[5m:1m:]", #"unexpected"#),
    ])
    func mistakesAreRefusedWithPrometheussWords(query: String, message: String) {
        do {
            let parsed = try PromQLParser.parse(query)
            Issue.record("\(query) parsed as \(parsed)")
        } catch {
            #expect(error.description.contains(message), "\(query): \(error)")
        }
    }

    /// Queries will come from the network: nesting, however it is built, is bounded before anything recurses.
    @Test func deepNestingIsRefused() throws {
        for query in [
            String(repeating: "(", count: 100_000) + "1" + String(repeating: ")", count: 100_000),
            (0..<100_000).map { _ in "1" }.joined(separator: " + "), String(repeating: "-", count: 100_000) + "1",
            String(repeating: "abs(", count: 50_000) + "x" + String(repeating: ")", count: 50_000),
            "x" + String(repeating: "[5m:1m]", count: 10_000),
        ] {
            #expect(throws: PromQLError.self) { try PromQLParser.parse(query) }
        }
        let fine = (0..<200).map { _ in "1" }.joined(separator: " + ")
        #expect(try PromQLParser.parse(fine).description == fine)
    }
}
