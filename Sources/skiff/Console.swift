import SkiffPOSIX

/// Lines for people at a terminal. The daemon's structured logs (journald) arrive with the runtime issue.
enum Console {
    /// Writes a line to standard error in one `write`, so lines from several threads never interleave.
    static func error(_ line: String) { Terminal.writeErrorLine(line) }
}

/// Text from elsewhere (a function's log line) made safe to print on a terminal: control characters, which could
/// move the cursor, retitle the window or rewrite what was printed before (`ESC ]`, `ESC [2J`, a lone CR), are
/// shown as `\xHH` instead of being obeyed. Tabs stay.
enum TerminalText {
    static var standardOutputIsTerminal: Bool { Terminal.isTerminal(1) }

    /// Columns of the terminal on standard output; 80 when it cannot be told.
    static var standardOutputWidth: Int { Terminal.width(of: 1) ?? 80 }

    static func escapingControls(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var escaped = ""
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                escaped += "\\x" + (hex.count < 2 ? "0" + hex : hex)
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// C0 controls but the tab, DEL, and the C1 controls (U+0080–U+009F, which terminals also obey).
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        (scalar.value < 0x20 && scalar != "\t") || (scalar.value >= 0x7F && scalar.value <= 0x9F)
    }
}
