import SkiffPOSIX
import Testing

/// Durations come from callers (`X-Timeout`) and from deploy bodies: no value may trap.
@Suite("Go durations")
struct DurationTests {
    @Test func parsesGoSyntax() {
        #expect(Duration(goSyntax: "1m30s") == .seconds(90))
        #expect(Duration(goSyntax: "500ms") == .milliseconds(500))
        #expect(Duration(goSyntax: "2h") == .seconds(7200))
        #expect(Duration(goSyntax: "0") == .zero)
        #expect(Duration(goSyntax: "1.5s") == .milliseconds(1500))
    }

    @Test(
        "values beyond Go's int64 nanoseconds, or not durations at all, are nil rather than a trap",
        arguments: [
            "99999999999999999999h", "6000000000h", "2562048h", "1e400s", "99999999999999999999999999999999999999s",
            "", "h", "1", "1x", "-1s", "1.2.3s", "٣s",
        ])
    func refusesWhatGoRefuses(_ text: String) {
        #expect(Duration(goSyntax: text) == nil)
    }

    @Test func theLongestGoDurationStillParses() {
        #expect(Duration(goSyntax: "2562047h") == .seconds(2_562_047 * 3600))
    }

    @Test func nanosecondsSaturateInsteadOfTrapping() {
        #expect(Duration.seconds(Int64.max).nanoseconds == Duration.maximumNanoseconds)
        #expect(Duration.seconds(20_000_000_000).nanoseconds == Duration.maximumNanoseconds)
        #expect(Duration.seconds(-5).nanoseconds == 0)
        #expect(Duration.seconds(3).nanoseconds == 3_000_000_000)
        // A deadline built from the largest value still lies in the future.
        let now = monotonicNanoseconds()
        #expect(now &+ Duration.seconds(Int64.max).nanoseconds > now)
    }
}
