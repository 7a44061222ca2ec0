import Foundation
import SkiffPOSIX

/// The file sink for function logs when journald is absent: `logs/NAMESPACE/NAME/REPLICA.log`, one line per
/// entry (`TIMESTAMP STREAM TEXT`), rotated to `REPLICA.log.1` past a size cap so a chatty function cannot fill
/// the disk. Appends are single `write`s with O_APPEND, so the collector and the daemon can both write.
struct LogFiles: Sendable {
    let directory: String
    let limit: Int

    func functionDirectory(namespace: String, name: String) -> String { "\(directory)/\(namespace)/\(name)" }

    func append(namespace: String, name: String, instance: String, stream: String, text: some Collection<UInt8>) {
        let folder = functionDirectory(namespace: namespace, name: name)
        let path = "\(folder)/\(instance).log"
        var line = Array((LogTimestamp.now() + " " + stream + " ").utf8)
        line += text
        line.append(UInt8(ascii: "\n"))
        if let status = FileSystem.status(path), status.size + line.count > limit {
            try? FileSystem.rename(path, to: path + ".1")
        }
        if !FileSystem.append(line, to: path) {
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            FileSystem.append(line, to: path)
        }
    }

    /// Entries already written, oldest first, filtered by `since` and cut to the last `tail`. With `upTo`, each
    /// current file is read only to that offset (what `follow` has not yet taken over).
    func read(_ query: LogQuery, upTo offsets: [String: Int]? = nil) -> [FunctionLogEntry] {
        let folder = functionDirectory(namespace: query.namespace, name: query.name)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        var entries: [FunctionLogEntry] = []
        for file in files where file.hasSuffix(".log") || file.hasSuffix(".log.1") {
            let instance = String(file.prefix(while: { $0 != "." }))
            guard var bytes = FileManager.default.contents(atPath: "\(folder)/\(file)").map(Array.init) else {
                continue
            }
            if let limit = offsets?[file], limit < bytes.count { bytes.removeLast(bytes.count - limit) }
            entries += parse(bytes, query: query, instance: instance)
        }
        entries.sort { $0.timestamp < $1.timestamp }
        if let since = query.since { entries.removeAll { $0.timestamp < since } }
        if let tail = query.tail, entries.count > tail { entries.removeFirst(entries.count - tail) }
        return entries
    }

    func parse(_ bytes: [UInt8], query: LogQuery, instance: String) -> [FunctionLogEntry] {
        var entries: [FunctionLogEntry] = []
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            guard let firstSpace = line.firstIndex(of: UInt8(ascii: " ")),
                let secondSpace = line[(firstSpace + 1)...].firstIndex(of: UInt8(ascii: " ")),
                let timestamp = LogTimestamp.parse(Substring(String(decoding: line[..<firstSpace], as: UTF8.self)))
            else { continue }
            entries.append(
                FunctionLogEntry(
                    name: query.name, namespace: query.namespace, instance: instance, timestamp: timestamp,
                    text: String(decoding: line[(secondSpace + 1)...], as: UTF8.self),
                    stream: String(decoding: line[(firstSpace + 1)..<secondSpace], as: UTF8.self)))
        }
        return entries
    }

    /// The history (as `read`) and then every new entry, polling the files, until the consumer stops.
    func follow(_ query: LogQuery) -> AsyncThrowingStream<FunctionLogEntry, any Error> {
        let folder = functionDirectory(namespace: query.namespace, name: query.name)
        let (stream, continuation) = AsyncThrowingStream<FunctionLogEntry, any Error>.makeStream()
        let task = Task {
            // Offsets per file; a file that shrank was rotated and is read from the start.
            var offsets: [String: (inode: UInt64, offset: Int)] = [:]
            for file in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            where file.hasSuffix(".log") {
                if let status = FileSystem.status("\(folder)/\(file)") { offsets[file] = (status.inode, status.size) }
            }
            for entry in read(query, upTo: offsets.mapValues(\.offset)) { continuation.yield(entry) }
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(200))
                for file in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
                where file.hasSuffix(".log") {
                    let path = "\(folder)/\(file)"
                    guard let status = FileSystem.status(path) else { continue }
                    var start = offsets[file].map { $0.inode == status.inode ? $0.offset : 0 } ?? 0
                    if status.size < start { start = 0 }
                    guard status.size > start, let handle = FileHandle(forReadingAtPath: path) else { continue }
                    try? handle.seek(toOffset: UInt64(start))
                    let data = (try? handle.readToEnd()) ?? Data()
                    try? handle.close()
                    // Only whole lines; a partial last line is read again next time.
                    let bytes = Array(data)
                    guard let lastNewline = bytes.lastIndex(of: UInt8(ascii: "\n")) else { continue }
                    let instance = String(file.prefix(while: { $0 != "." }))
                    for entry in parse(Array(bytes[...lastNewline]), query: query, instance: instance) {
                        continuation.yield(entry)
                    }
                    offsets[file] = (status.inode, start + lastNewline + 1)
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
