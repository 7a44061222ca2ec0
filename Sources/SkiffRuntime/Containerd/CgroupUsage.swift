import Foundation
import SkiffAPI

/// `usage` for describe: memory and CPU of the function's replicas, read from the cgroups their runtime spec
/// placed them in (`/NAMESPACE/REPLICA`, v1 or v2).
enum CgroupUsage {
    static func measure(_ status: FunctionStatus) -> FunctionSummary.Usage {
        var memory = 0.0
        var cpuSeconds = 0.0
        let namespace = status.definition.namespace
        for instance in status.instances where instance.phase == .ready || instance.phase == .starting {
            let v2 = "/sys/fs/cgroup/\(namespace)/\(instance.id)"
            if FileManager.default.fileExists(atPath: "\(v2)/memory.current") {
                memory += number("\(v2)/memory.current")
                if let stat = try? String(contentsOfFile: "\(v2)/cpu.stat", encoding: .utf8),
                    let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("usage_usec ") }),
                    let value = Double(line.split(separator: " ")[1])
                {
                    cpuSeconds += value / 1e6
                }
            } else {
                memory += number("/sys/fs/cgroup/memory/\(namespace)/\(instance.id)/memory.usage_in_bytes")
                cpuSeconds += number("/sys/fs/cgroup/cpu,cpuacct/\(namespace)/\(instance.id)/cpuacct.usage") / 1e9
            }
        }
        return FunctionSummary.Usage(cpu: cpuSeconds, totalMemoryBytes: memory)
    }

    private static func number(_ path: String) -> Double {
        (try? String(contentsOfFile: path, encoding: .utf8)).flatMap {
            Double($0.trimmingCharacters(in: .whitespacesAndNewlines))
        } ?? 0
    }
}
