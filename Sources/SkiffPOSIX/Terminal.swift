import Glibc

/// The terminal, for a command-line tool's output: whether a descriptor is one, how wide it is, and lines to
/// standard error written whole.
public enum Terminal {
    public static func isTerminal(_ descriptor: Int32) -> Bool { isatty(descriptor) == 1 }

    /// Columns of the terminal on `descriptor`; nil when it is not a terminal or cannot tell.
    public static func width(of descriptor: Int32) -> Int? {
        var size = winsize()
        guard ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    /// Writes `line` and a newline to standard error in one `write`, so lines from several threads never
    /// interleave.
    public static func writeErrorLine(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        _ = writeAll(2, bytes)
    }
}
