import Foundation
import SkiffPOSIX
import SkiffSystemd

/// The process containerd's shim starts for every replica task (`--log-uri binary:///…/skiff?collect-logs=…`):
/// it receives the container's stdout on fd 3, stderr on fd 4 and a wait pipe on fd 5 (closed once ready), and
/// turns each line into a journald entry (`SYSLOG_IDENTIFIER=NAMESPACE:NAME`, `SKIFF_INSTANCE=REPLICA`) or a
/// line in the replica's log file. It belongs to the shim, not the daemon, so logs keep flowing while Skiff
/// restarts; it exits when the container closes both streams. It never stops draining: lines longer than
/// `maximumLine` are split.
public enum LogCollector {
    static let maximumLine = 16 * 1024

    /// The log URI for a replica: the collector's path and its settings in one query value
    /// (`SINK|LIMIT|DIRECTORY`), since the shim passes query pairs as arguments in no fixed order.
    static func uri(collector: String, sink: RuntimeConfiguration.LogSink, limit: Int, directory: String) -> String {
        let value = "\(sink.rawValue)|\(limit)|\(directory)"
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~/"))
        let encoded = value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
        return "binary://\(collector)?collect-logs=\(encoded)"
    }

    /// `skiff collect-logs SINK|LIMIT|DIRECTORY`, with CONTAINER_ID and CONTAINER_NAMESPACE in the environment.
    public static func run(setting: String, environment: [String: String]) -> Int32 {
        let parts = setting.split(separator: "|", maxSplits: 2).map(String.init)
        guard parts.count == 3, let limit = Int(parts[1]),
            let instance = environment["CONTAINER_ID"], let namespace = environment["CONTAINER_NAMESPACE"]
        else {
            FileHandle.standardError.write(Data("skiff collect-logs: run by containerd's shim, not by hand\n".utf8))
            return 2
        }
        // Replica ids are NAME-SUFFIX, the suffix without dashes.
        let name = instance.split(separator: "-").dropLast().joined(separator: "-")
        let sink = RuntimeConfiguration.LogSink(rawValue: parts[0]) ?? .automatic
        let useJournal = sink == .journald || (sink == .automatic && Journal.isAvailable)
        let files = LogFiles(directory: parts[2], limit: limit)
        let identifier = Array("\(namespace):\(name)".utf8)
        let write: (String, ArraySlice<UInt8>) -> Void = { stream, text in
            if useJournal {
                Journal.send([
                    ("MESSAGE", Array(text)), ("PRIORITY", Array((stream == "stderr" ? "3" : "6").utf8)),
                    ("SYSLOG_IDENTIFIER", identifier), ("SKIFF_INSTANCE", Array(instance.utf8)),
                    ("SKIFF_STREAM", Array(stream.utf8)),
                ])
            } else {
                files.append(namespace: namespace, name: name, instance: instance, stream: stream, text: text)
            }
        }
        PipeLines.closeInherited(5)
        PipeLines.drain([3, 4], maximumLine: maximumLine) { descriptor, text in
            write(descriptor == 3 ? "stdout" : "stderr", text)
        }
        return 0
    }
}
