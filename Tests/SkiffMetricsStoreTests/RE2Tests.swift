import Foundation
import SkiffTestSupport
import Testing

@testable import SkiffMetricsStore

/// Skiff's RE2: Go's syntax, whole-text matching with Go's leftmost-first submatches, in linear time.
@Suite("RE2 regular expressions")
struct RE2Tests {
    @Test(arguments: [
        ("a.c", "abc", true), ("a.c", "a\nc", false), ("(?s)a.c", "a\nc", true), ("[a-c]+", "abcab", true),
        ("[^a-c]+", "xyz", true), ("[^a-c]+", "xaz", false), ("\\d{2,3}", "123", true), ("\\d{2,3}", "1234", false),
        ("(?i)FooBar", "foobar", true), ("foo|foobar", "foobar", true), ("x*", "", true), ("\\.", ".", true),
        ("\\.", "x", false), ("[[:alpha:]]+", "abcXYZ", true), ("[[:^alpha:]]", "1", true), ("\\pL+", "héllo", true),
        ("\\PL", "é", false), ("\\Qa.b\\E", "a.b", true), ("\\Qa.b\\E", "axb", false), ("\\x41\\x{263a}", "A☺", true),
        ("a{0}", "", true), ("(?:ab)?c", "c", true), ("^a$", "a", true), ("a\\b", "a", true), ("(?m)^b", "b", true),
        (".*", "anything at all", true), (".+", "", false), (".*", "two\nlines", false), ("(?s).*", "two\nlines", true),
        (".+", "x", true), ("(?s).+", "\n", true), (".+?", "ab", true), ("(.*)", "a\nb", false), ("a|", "", true),
        ("[]a]+", "]a]", true),
        ("[a-]+", "a-a", true), ("\\w+\\s\\W", "ab_9 !", true), ("(?i)[k]", "K", true), ("(?U)a+", "aaa", true),
    ])
    func matchesTheWholeTextAsGoDoes(pattern: String, text: String, expected: Bool) throws {
        #expect(try RE2(anchoring: pattern).matches(text) == expected)
    }

    @Test(arguments: [
        ("(", "missing closing ): `^(?:()$`"), ("a**", "invalid nested repetition operator: `**`"),
        ("*", "missing argument to repetition operator: `*`"), ("\\1", "invalid escape sequence: `\\1`"),
        ("(?=a)", "invalid or unsupported Perl syntax: `(?=`"), ("a{1001}", "invalid repeat count: `{1001}`"),
        ("[z-a]", "invalid character class range: `z-a`"), ("[a", "missing closing ]: `[a)$`"),
        ("\\q", "invalid escape sequence: `\\q`"), ("(?P<n>a)(?P<n>b)", "duplicate capture group name: `n`"),
    ])
    func refusesWhatGoRefusesInGosWords(pattern: String, message: String) {
        #expect(throws: RE2Error(message: message)) { try RE2(anchoring: pattern) }
    }

    @Test func submatchesAreLeftmostFirst() throws {
        let regex = try RE2(anchoring: "(a*)(a*)(?P<rest>.*)")
        let groups = try #require(regex.wholeMatch("aaab"))
        #expect(groups.map { $0.map { [$0.lowerBound, $0.upperBound] } } == [[0, 4], [0, 3], [3, 3], [3, 4]])
        #expect(regex.groupNames == ["rest": 3])
        let lazy = try #require(try RE2(anchoring: "(a+?)(a*)").wholeMatch("aaa"))
        #expect(lazy[1] == 0..<1 && lazy[2] == 1..<3)
        // An empty iteration never sets a group again (Go's rule; Perl would make group 1 empty here).
        let loop = try #require(try RE2(anchoring: "(a*)*").wholeMatch("aa"))
        #expect(loop[1] == 0..<2)
        let alternative = try #require(try RE2(anchoring: "(a|ab)(c|bcd)(d*)").wholeMatch("abcd"))
        #expect(alternative[1] == 0..<1 && alternative[2] == 1..<4 && alternative[3] == 4..<4)
        #expect(try RE2(anchoring: "(x)?y").wholeMatch("y")?[1] == nil)
    }

    /// Patterns that make a backtracking engine take exponential time: answered at once (a backtracker would
    /// still be running when the suite gives up).
    @Test func catastrophicPatternsTakeLinearTime() throws {
        let long = String(repeating: "a", count: 20_000)
        #expect(try RE2(anchoring: "(a|a)*b").matches(long) == false)
        #expect(try RE2(anchoring: "(a*)*b").matches(long) == false)
        #expect(try RE2(anchoring: "(a|aa)+").matches(long) == true)
        #expect(try RE2(anchoring: "(.*a){12}").matches(long + "b") == false)
        #expect(throws: RE2Error.self) { try RE2(anchoring: "((a{1000}){1000}){1000}") }
    }

    /// Random patterns of literals, classes, groups, alternation and repetition against random texts: the same
    /// answers and the same submatches as Swift's backtracking `Regex`, whose priorities are Perl's, as Go's are.
    /// (Groups are not repeated here: where a repeated group can match empty, Perl lets one more empty iteration
    /// set the group and Go does not; `submatchesAreLeftmostFirst` has Go's answers for those.)
    @Test func agreesWithABacktrackerOnRandomPatterns() throws {
        var random = SeededGenerator(seed: 2_024)
        func pattern(_ depth: Int) -> String {
            let atoms = ["a", "b", ".", "[ab]", "[^a]", "\\d", "x"]
            var out = ""
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                if depth < 2, Int.random(in: 0..<4, using: &random) == 0 {
                    out += "(" + pattern(depth + 1) + "|" + pattern(depth + 1) + ")"
                } else {
                    out += atoms[Int.random(in: 0..<atoms.count, using: &random)]
                    out += ["", "", "*", "+", "?", "{1,2}", "*?", "??"][Int.random(in: 0..<8, using: &random)]
                }
            }
            return out
        }
        var compared = 0
        var matched = 0
        for _ in 0..<3_000 {
            let source = pattern(0)
            let text = String(
                (0..<Int.random(in: 0...6, using: &random)).map { _ in
                    "ab1x"[
                        "ab1x".index("ab1x".startIndex, offsetBy: Int.random(in: 0..<4, using: &random))]
                })
            let mine = try RE2(anchoring: source)
            let theirs = try Regex("^(?:" + source + ")$")
            let reference = try theirs.wholeMatch(in: text)
            #expect(mine.matches(text) == (reference != nil), "\(source) on \(text)")
            if let reference, let groups = mine.wholeMatch(text) {
                matched += 1
                for index in 1..<reference.output.count {
                    let expected = reference.output[index].range.map {
                        text.unicodeScalars.distance(
                            from: text.startIndex, to: $0.lowerBound)..<text.unicodeScalars
                            .distance(from: text.startIndex, to: $0.upperBound)
                    }
                    #expect(groups[index] == expected, "\(source) on \(text), group \(index)")
                }
            }
            compared += 1
        }
        #expect(compared == 3_000 && matched > 300)
    }
}
