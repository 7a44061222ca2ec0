import SkiffLog

/// Sends each record to journald as a native entry: `MESSAGE`, `PRIORITY`, `SYSLOG_IDENTIFIER`, the source
/// location, and every metadata key as its own field (`function` → `FUNCTION`), so that
/// `journalctl -u skiff FUNCTION=figlet` and `-o json` are useful.
public struct JournalLogHandler: LogHandler {
    public var identifier: String

    public init(identifier: String = "skiff") { self.identifier = identifier }

    public func log(_ record: LogRecord) {
        var fields: [(name: String, value: [UInt8])] = [
            ("MESSAGE", Array(record.message.utf8)),
            ("PRIORITY", Array(String(record.level.syslogPriority).utf8)),
            ("SYSLOG_IDENTIFIER", Array(identifier.utf8)),
            ("SKIFF_COMPONENT", Array(record.label.utf8)),
            ("CODE_FILE", Array(record.file.utf8)),
            ("CODE_LINE", Array(String(record.line).utf8)),
            ("CODE_FUNC", Array(record.function.utf8)),
        ]
        for (key, value) in record.metadata.sorted(by: { $0.key < $1.key }) {
            fields.append((Journal.fieldName(key), Array(value.utf8)))
        }
        Journal.send(fields)
    }
}

/// The daemon's own log sink, chosen once at start-up: stderr that already is a journal stream gets `<N>`
/// prefixes, a reachable journald gets native entries with fields, anything else plain stderr lines.
public func makeDaemonLogHandler(identifier: String = "skiff") -> any LogHandler {
    if Journal.stderrIsJournalStream {
        // Native entries carry fields; the stream only priorities. Prefer native when the socket is there.
        return Journal.isAvailable ? JournalLogHandler(identifier: identifier) : StderrLogHandler(syslogPrefix: true)
    }
    return Journal.isAvailable ? JournalLogHandler(identifier: identifier) : StderrLogHandler()
}
