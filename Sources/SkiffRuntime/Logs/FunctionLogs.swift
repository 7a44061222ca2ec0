import Foundation
import SkiffPOSIX
import SkiffSystemd

/// Reads function logs back from whichever sink the collectors write to, and lets the runtime add its own
/// notes (crashes, restarts) to a function's log.
struct FunctionLogs: Sendable {
    let usesJournal: Bool
    let files: LogFiles

    init(configuration: RuntimeConfiguration) {
        usesJournal =
            configuration.logSink == .journald || (configuration.logSink == .automatic && Journal.isAvailable)
        files = LogFiles(directory: "\(configuration.stateDirectory)/logs", limit: configuration.logFileLimit)
    }

    func note(namespace: String, name: String, instance: String, _ text: String) {
        if usesJournal {
            Journal.send([
                ("MESSAGE", Array(text.utf8)), ("PRIORITY", Array("4".utf8)),
                ("SYSLOG_IDENTIFIER", Array("\(namespace):\(name)".utf8)), ("SKIFF_INSTANCE", Array(instance.utf8)),
                ("SKIFF_STREAM", Array("skiff".utf8)),
            ])
        } else {
            files.append(namespace: namespace, name: name, instance: instance, stream: "skiff", text: Array(text.utf8))
        }
    }

    func read(_ query: LogQuery) throws -> AsyncThrowingStream<FunctionLogEntry, any Error> {
        if usesJournal { return try journal(query) }
        if query.follow { return files.follow(query) }
        let entries = files.read(query)
        return AsyncThrowingStream { continuation in
            for entry in entries { continuation.yield(entry) }
            continuation.finish()
        }
    }

    /// `journalctl -t NAMESPACE:NAME -o json`, one JSON object per line.
    private func journal(_ query: LogQuery) throws -> AsyncThrowingStream<FunctionLogEntry, any Error> {
        var arguments = ["--no-pager", "-o", "json", "-t", "\(query.namespace):\(query.name)"]
        if let since = query.since { arguments += ["--since", "@\(Int(since.timeIntervalSince1970))"] }
        if let tail = query.tail { arguments += ["-n", String(tail)] }
        if query.follow { arguments.append("-f") }
        let lines = try ChildProcess("/usr/bin/journalctl", arguments).lines()
        struct Record: Decodable {
            var MESSAGE: String?
            var __REALTIME_TIMESTAMP: String?
            var SKIFF_INSTANCE: String?
            var SKIFF_STREAM: String?
        }
        let (stream, continuation) = AsyncThrowingStream<FunctionLogEntry, any Error>.makeStream()
        let task = Task {
            let decoder = JSONDecoder()
            do {
                for try await line in lines {
                    guard let record = try? decoder.decode(Record.self, from: Data(line.utf8)),
                        let message = record.MESSAGE
                    else { continue }
                    let micros = record.__REALTIME_TIMESTAMP.flatMap(Double.init) ?? 0
                    let timestamp = Date(timeIntervalSince1970: micros / 1_000_000)
                    if let since = query.since, timestamp < since { continue }
                    continuation.yield(
                        FunctionLogEntry(
                            name: query.name, namespace: query.namespace, instance: record.SKIFF_INSTANCE ?? "",
                            timestamp: timestamp, text: message, stream: record.SKIFF_STREAM ?? "stdout"))
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
