import Glibc
import SkiffAPI
import SkiffContainerd
import SkiffPOSIX
import Synchronization

/// Progress of long work, for a person: on a terminal, one line redrawn in place with a bar, the percentage and the
/// bytes (at most ten times a second, cut to the terminal's width so that it never wraps); anywhere else (a pipe,
/// a CI log) plain lines only, one when a step begins and one when a transfer starts, nothing in between.
final class ProgressDisplay: Sendable {
    private let prefix: String
    private let terminal: Bool
    private let width: Int
    private let output: @Sendable (String) -> Void
    private let clock: @Sendable () -> UInt64
    private let state = Mutex(State())

    private struct State {
        var activity: String?
        var lastDraw: UInt64 = 0
        /// A bar is drawn and its line not ended yet.
        var lineOpen = false
    }

    init(
        prefix: String, terminal: Bool = TerminalText.standardOutputIsTerminal,
        width: Int = TerminalText.standardOutputWidth,
        output: @escaping @Sendable (String) -> Void = { text in
            print(text, terminator: "")
            fflush(nil)  // every stream: naming stdout is not concurrency-safe in Swift 6
        },
        clock: @escaping @Sendable () -> UInt64 = { monotonicNanoseconds() }
    ) {
        self.prefix = prefix
        self.terminal = terminal
        self.width = width
        self.output = output
        self.clock = clock
    }

    /// A step begins: its own line, after the last bar (which stays as it was last drawn).
    func step(_ text: String) {
        state.withLock { state in
            output((state.lineOpen ? "\n" : "") + prefix + text + "\n")
            state.lineOpen = false
            state.activity = nil
        }
    }

    func transfer(_ progress: TransferProgress) {
        state.withLock { state in
            let starting = state.activity != progress.activity
            state.activity = progress.activity
            guard terminal else {
                if starting {
                    let size = progress.total > 0 ? " (\(ByteCount.describe(progress.total)))" : ""
                    output(prefix + progress.activity + size + "\n")
                }
                return
            }
            let now = clock()
            let finished = progress.total > 0 && progress.done >= progress.total
            guard starting || finished || now &- state.lastDraw >= 100_000_000 else { return }
            state.lastDraw = now
            output(
                (starting && state.lineOpen ? "\n" : "") + "\r" + Self.render(prefix, progress, width: width)
                    + "\u{1B}[K")
            state.lineOpen = true
        }
    }

    /// Ends a bar's line, if one is open.
    func finish() {
        state.withLock { state in
            if state.lineOpen { output("\n") }
            state.lineOpen = false
        }
    }

    /// `[fn] importing  [#########---------------]  38%  61 MB / 160 MB`, its activity shortened to fit `width`.
    static func render(_ prefix: String, _ progress: TransferProgress, width: Int) -> String {
        var figures: String
        if progress.total > 0 {
            let fraction = min(1, Double(progress.done) / Double(progress.total))
            let filled = Int(fraction * 24)
            figures =
                "  [" + String(repeating: "#", count: filled) + String(repeating: "-", count: 24 - filled) + "] "
                + "\(Int(fraction * 100))%".leftPadded(to: 4) + "  \(ByteCount.describe(progress.done)) / "
                + ByteCount.describe(progress.total)
        } else {
            // Nothing known yet (a pull waiting for its manifest): the activity alone.
            figures = progress.done > 0 ? "  \(ByteCount.describe(progress.done))" : ""
        }
        let room = width - 1 - prefix.count - figures.count
        if room < 8 { figures = "" }
        var activity = progress.activity
        let allowed = max(8, width - 1 - prefix.count - figures.count)
        if activity.count > allowed { activity = String(activity.prefix(allowed - 1)) + "…" }
        return prefix + activity + figures
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: " ", count: length - count) + self
    }
}
