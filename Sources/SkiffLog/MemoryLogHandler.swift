import Synchronization

/// Keeps records in memory, for tests that assert what was logged.
public final class MemoryLogHandler: LogHandler {
    private let records = Mutex<[LogRecord]>([])

    public init() {}

    public func log(_ record: LogRecord) { records.withLock { $0.append(record) } }

    public var all: [LogRecord] { records.withLock { $0 } }
}
