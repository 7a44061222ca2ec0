import Foundation
import Testing

@testable import SkiffMetricsStore

/// Prometheus v2.42.0's PromQL test scripts through Skiff's store and engine: every eval block of every file must
/// pass, as Prometheus's own runner checks it (see `PromQLScript`). The pass counts are printed per file;
/// `PROMQL_FAILURES=1` prints each failure.
@Suite("PromQL conformance")
struct PromQLConformanceTests {
    /// With the samples in the head (as they are for the last two hours) and in blocks on disk (everything older).
    @Test(arguments: [false, true])
    func everyEvalOfPrometheussScriptsPasses(throughBlocks: Bool) throws {
        let directory = PromQLParserTests.fixtures
        var passed = 0
        var total = 0
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".test") }
        #expect(files.count == 11)
        for file in files.sorted() {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            let outcome = try PromQLScript(name: file, text: text, throughBlocks: throughBlocks).run()
            print("promql conformance\(throughBlocks ? " (blocks)" : ""): \(file) \(outcome.passed)/\(outcome.total)")
            if ProcessInfo.processInfo.environment["PROMQL_FAILURES"] != nil {
                for failure in outcome.failures { print("  \(failure)") }
            }
            #expect(outcome.passed == outcome.total, "\(file): \(outcome.failures.prefix(5))")
            passed += outcome.passed
            total += outcome.total
        }
        print("promql conformance: all \(passed)/\(total)")
        #expect(total == 566)
    }

    /// The runner itself fails what is wrong: a wrong value, a missing or extra element, the wrong order, an
    /// eval_fail that does not fail, a scalar where a vector was expected.
    @Test(arguments: [
        ("eval instant at 2m x\n  x 3\n", 1), ("eval instant at 2m x\n  x 4\n", 0), ("eval instant at 2m x\n", 0),
        ("eval instant at 2m x\n  x 3\n  y 3\n", 0), ("eval instant at 2m x + 1\n  {} 4\n", 1),
        ("eval instant at 2m x + 1\n  x 4\n", 0), ("eval_fail instant at 2m x\n", 0),
        ("eval_fail instant at 2m x +\n", 1),
        ("eval instant at 2m scalar(x)\n  3\n", 1), ("eval instant at 2m scalar(x)\n  {} 3\n", 0),
        ("eval_ordered instant at 2m sort_desc(x or z)\n  z{b=\"1\"} 9\n  x 3\n", 1),
        ("eval_ordered instant at 2m sort_desc(x or z)\n  x 3\n  z{b=\"1\"} 9\n", 0),
        ("eval instant at 2m timestamp(x @ 60)\n  {} 60\n", 1),
    ])
    func theRunnerFailsWhatIsWrong(eval: String, passes: Int) throws {
        let script = "load 1m\n  x 1 2 3\n  z{b=\"1\"} 9+0x2\n\n" + eval
        let outcome = try PromQLScript(name: "inline", text: script).run()
        #expect(outcome.total == 1 && outcome.passed == passes, "\(outcome.failures)")
    }
}
