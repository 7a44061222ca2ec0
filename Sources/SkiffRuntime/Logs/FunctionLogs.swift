import Foundation
import SkiffPOSIX
import SkiffSystemd

/// Reads function logs back from whichever sink the collectors write to, and lets the runtime add its own
/// notes (crashes, restarts) to a function's log.
struct FunctionLogs: Sendable {
    let usesJournal: Bool
    let journalctl: String
    let files: LogFiles

    init(configuration: RuntimeConfiguration) {
        journalctl = configuration.journalctlPath
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
        let lines = try ChildProcess(journalctl, arguments).lines()
        struct Record: Decodable {
            var message: String?
            var realtime: String?
            var instance: String?
            var stream: String?

            enum CodingKeys: String, CodingKey {
                case message = "MESSAGE"
                case realtime = "__REALTIME_TIMESTAMP"
                case instance = "SKIFF_INSTANCE"
                case stream = "SKIFF_STREAM"
            }

            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                // journald writes a message that is not valid UTF-8 as an array of byte values.
                if let text = try? container.decode(String.self, forKey: .message) {
                    message = text
                } else if let bytes = try? container.decode([UInt8].self, forKey: .message) {
                    message = String(decoding: bytes, as: UTF8.self)
                }
                realtime = try container.decodeIfPresent(String.self, forKey: .realtime)
                instance = try container.decodeIfPresent(String.self, forKey: .instance)
                stream = try container.decodeIfPresent(String.self, forKey: .stream)
            }
        }
        let (stream, continuation) = AsyncThrowingStream<FunctionLogEntry, any Error>.makeStream()
        let task = Task {
            let decoder = JSONDecoder()
            do {
                for try await line in lines {
                    guard let record = try? decoder.decode(Record.self, from: Data(line.utf8)),
                        let message = record.message
                    else { continue }
                    let micros = record.realtime.flatMap(Double.init) ?? 0
                    let timestamp = Date(timeIntervalSince1970: micros / 1_000_000)
                    if let since = query.since, timestamp < since { continue }
                    continuation.yield(
                        FunctionLogEntry(
                            name: query.name, namespace: query.namespace, instance: record.instance ?? "",
                            timestamp: timestamp, text: message, stream: record.stream ?? "stdout"))
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
