import SkiffContainerd
import SkiffRuntime
import Synchronization
import Testing

@testable import skiff

@Suite("progress display")
struct ProgressDisplayTests {
    /// A display whose output and clock the test holds.
    final class Harness: Sendable {
        let written = Mutex<String>("")
        let now = Mutex<UInt64>(1_000_000_000)
        func display(terminal: Bool, width: Int = 100) -> ProgressDisplay {
            ProgressDisplay(
                prefix: "[fn] ", terminal: terminal, width: width,
                output: { text in self.written.withLock { $0 += text } }, clock: { self.now.withLock { $0 } })
        }
        func advance(milliseconds: UInt64) { now.withLock { $0 += milliseconds * 1_000_000 } }
        var text: String { written.withLock { $0 } }
    }

    static func transfer(_ activity: String, _ done: Int, _ total: Int) -> TransferProgress {
        TransferProgress(activity: activity, done: done, total: total)
    }

    @Test func withoutATerminalEachStepAndEachTransferIsOnePlainLine() {
        let harness = Harness()
        let display = harness.display(terminal: false)
        display.step("base: busybox")
        for done in stride(from: 0, through: 162_000_000, by: 1_000_000) {
            display.transfer(Self.transfer("importing", done, 162_000_000))
        }
        display.transfer(Self.transfer("pulling x", 0, 0))
        display.transfer(Self.transfer("pulling x", 5, 10))
        display.step("imported")
        display.finish()
        #expect(harness.text == "[fn] base: busybox\n[fn] importing (162 MB)\n[fn] pulling x\n[fn] imported\n")
    }

    @Test func onATerminalOneLineIsRedrawnAtMostTenTimesASecond() {
        let harness = Harness()
        let display = harness.display(terminal: true)
        display.step("base: busybox")
        display.transfer(Self.transfer("importing", 0, 200_000_000))
        display.transfer(Self.transfer("importing", 1_000_000, 200_000_000))  // within 100 ms: not drawn
        harness.advance(milliseconds: 100)
        display.transfer(Self.transfer("importing", 100_000_000, 200_000_000))
        display.transfer(Self.transfer("importing", 200_000_000, 200_000_000))  // the end is always drawn
        display.step("imported")
        let frames = harness.text.split(separator: "\r", omittingEmptySubsequences: false)
        #expect(frames.first == "[fn] base: busybox\n")
        #expect(
            Array(frames.dropFirst()) == [
                "[fn] importing  [------------------------]   0%  0 B / 200 MB\u{1B}[K",
                "[fn] importing  [############------------]  50%  100 MB / 200 MB\u{1B}[K",
                "[fn] importing  [########################] 100%  200 MB / 200 MB\u{1B}[K\n[fn] imported\n",
            ])
    }

    @Test func aNewTransferStartsOnItsOwnLine() {
        let harness = Harness()
        let display = harness.display(terminal: true)
        display.transfer(Self.transfer("pulling a", 0, 0))
        display.transfer(Self.transfer("importing", 1000, 1000))
        display.finish()
        #expect(
            harness.text
                == "\r[fn] pulling a\u{1B}[K\n\r[fn] importing  [########################] 100%  1.0 kB / 1.0 kB\u{1B}[K\n"
        )
    }

    @Test(arguments: [40, 60, 80, 120])
    func aDrawnLineNeverWrapsOnTheTerminal(_ width: Int) {
        let long = Self.transfer("pulling registry.example.com:5000/team/a-very-long-image-name:v1.2.3", 5, 10)
        let line = ProgressDisplay.render("[function] ", long, width: width)
        #expect(line.count <= max(width - 1, "[function] ".count + 8))
        #expect(line.hasPrefix("[function] pulling"))
    }
}
