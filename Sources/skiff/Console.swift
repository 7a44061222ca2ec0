import Glibc

/// Lines for people at a terminal. The daemon's structured logs (journald) arrive with the runtime issue.
enum Console {
    /// Writes a line to standard error in one `write`, so lines from several threads never interleave.
    static func error(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
