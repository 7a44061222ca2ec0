/// A small value-type logger: a label, a minimum level and metadata, over a handler that decides where lines
/// go (journald, stderr, memory). Libraries are handed a logger; only the executable chooses the handler.
/// Messages are autoclosures, so a line below the level costs nothing.
public struct Logger: Sendable {
    public var label: String
    public var level: LogLevel
    /// Attached to every record; keys are lowercase words joined by `_` (`function`, `call_id`), which the
    /// journald handler turns into fields (`FUNCTION`, `CALL_ID`).
    public var metadata: [String: String]
    public let handler: any LogHandler

    public init(label: String, level: LogLevel = .info, metadata: [String: String] = [:], handler: any LogHandler) {
        self.label = label
        self.level = level
        self.metadata = metadata
        self.handler = handler
    }

    /// A copy with more metadata, for a scope such as one function or one call.
    public func with(_ extra: [String: String]) -> Logger {
        var copy = self
        copy.metadata.merge(extra) { $1 }
        return copy
    }

    public func log(
        _ level: LogLevel, _ message: @autoclosure () -> String, _ extra: [String: String] = [:],
        file: String = #fileID, line: Int = #line, function: String = #function
    ) {
        guard level >= self.level else { return }
        var fields = metadata
        if !extra.isEmpty { fields.merge(extra) { $1 } }
        // An empty field says nothing and reads like a bug (`call_id=`): fields without a value are left out.
        if fields.values.contains(where: \.isEmpty) { fields = fields.filter { !$0.value.isEmpty } }
        handler.log(
            LogRecord(
                level: level, label: label, message: message(), metadata: fields, file: file, line: line,
                function: function))
    }

    public func debug(
        _ message: @autoclosure () -> String, _ extra: [String: String] = [:], file: String = #fileID,
        line: Int = #line, function: String = #function
    ) { log(.debug, message(), extra, file: file, line: line, function: function) }

    public func info(
        _ message: @autoclosure () -> String, _ extra: [String: String] = [:], file: String = #fileID,
        line: Int = #line, function: String = #function
    ) { log(.info, message(), extra, file: file, line: line, function: function) }

    public func notice(
        _ message: @autoclosure () -> String, _ extra: [String: String] = [:], file: String = #fileID,
        line: Int = #line, function: String = #function
    ) { log(.notice, message(), extra, file: file, line: line, function: function) }

    public func warning(
        _ message: @autoclosure () -> String, _ extra: [String: String] = [:], file: String = #fileID,
        line: Int = #line, function: String = #function
    ) { log(.warning, message(), extra, file: file, line: line, function: function) }

    public func error(
        _ message: @autoclosure () -> String, _ extra: [String: String] = [:], file: String = #fileID,
        line: Int = #line, function: String = #function
    ) { log(.error, message(), extra, file: file, line: line, function: function) }
}

/// Ordered by severity; `syslogPriority` is the number journald and syslog use.
public enum LogLevel: Int, Sendable, Comparable, CaseIterable {
    case debug, info, notice, warning, error

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    public var syslogPriority: Int {
        switch self {
        case .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        }
    }

    public init?(name: String) {
        guard let level = LogLevel.allCases.first(where: { "\($0)" == name.lowercased() }) else { return nil }
        self = level
    }
}

public struct LogRecord: Sendable {
    public var level: LogLevel
    public var label: String
    public var message: String
    public var metadata: [String: String]
    public var file: String
    public var line: Int
    public var function: String
}

/// Where records go. Handlers must be cheap and must not block for long: they are called inline.
public protocol LogHandler: Sendable {
    func log(_ record: LogRecord)
}
