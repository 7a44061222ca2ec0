import Glibc

/// One line per record on standard error: `LEVEL label: message key=value…`. With `syslogPrefix`, each line
/// starts with `<N>` instead of the level name, which journald reads as the priority when stderr is a journal
/// stream.
public struct StderrLogHandler: LogHandler {
    public var syslogPrefix: Bool

    public init(syslogPrefix: Bool = false) { self.syslogPrefix = syslogPrefix }

    public func log(_ record: LogRecord) {
        var line = syslogPrefix ? "<\(record.level.syslogPriority)>" : "\(record.level) ".uppercased()
        line += "\(record.label): \(record.message)"
        for key in record.metadata.keys.sorted() {
            guard let value = record.metadata[key] else { continue }
            line += " \(key)=\(value.contains(" ") ? "\"\(value)\"" : value)"
        }
        line = line.replacingNewlines() + "\n"
        // One write per line keeps lines from concurrent tasks whole.
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}

extension String {
    /// Multi-line messages stay one record: newlines become `\n` escapes.
    fileprivate func replacingNewlines() -> String {
        guard contains("\n") else { return self }
        return split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\\n")
    }
}
