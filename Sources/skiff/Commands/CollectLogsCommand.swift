import Foundation
import SkiffRuntime

/// `skiff collect-logs SETTING`: started by containerd's shim for each replica task, never by hand; carries the
/// replica's stdout and stderr into journald or the log files (see `LogCollector`).
enum CollectLogsCommand {
    static func run(_ arguments: [String]) -> Int32 {
        LogCollector.run(setting: arguments.first ?? "", environment: ProcessInfo.processInfo.environment)
    }
}
