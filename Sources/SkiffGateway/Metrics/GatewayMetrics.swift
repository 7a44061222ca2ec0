import Foundation
import Glibc
import Synchronization

/// The gateway's Prometheus metrics, named and labelled as OpenFaaS names them so that existing dashboards and
/// alert rules work: `gateway_function_invocation_total{function_name,code}`, `gateway_functions_seconds`
/// (histogram), `gateway_function_invocation_started{function_name}`, `gateway_service_count{function_name}`;
/// plus the process's own `process_*` family. Two short lock holds per invocation.
public final class GatewayMetrics: Sendable {
    static let buckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private struct Series: Hashable {
        var function: String
        var code: Int
    }

    private struct Histogram {
        var counts = [UInt64](repeating: 0, count: GatewayMetrics.buckets.count)
        var sum = 0.0
        var count: UInt64 = 0
    }

    private struct State {
        var total: [Series: UInt64] = [:]
        var seconds: [Series: Histogram] = [:]
        var started: [String: UInt64] = [:]
    }

    private let state = Mutex(State())
    private let startTime = Date()

    public init() {}

    /// A call to `function` (`name.namespace`) began.
    public func started(_ function: String) {
        state.withLock { $0.started[function, default: 0] += 1 }
    }

    /// A call ended with `code` after `seconds` (cold-start waiting excluded).
    public func completed(_ function: String, code: Int, seconds: Double) {
        let series = Series(function: function, code: code)
        state.withLock { state in
            state.total[series, default: 0] += 1
            var histogram = state.seconds[series] ?? Histogram()
            for (index, bound) in Self.buckets.enumerated() where seconds <= bound { histogram.counts[index] += 1 }
            histogram.sum += seconds
            histogram.count += 1
            state.seconds[series] = histogram
        }
    }

    /// Completed calls of `function`, all codes (the list route's `invocationCount`).
    public func invocations(_ function: String) -> Double {
        state.withLock { state in
            Double(state.total.reduce(0) { $0 + ($1.key.function == function ? $1.value : 0) })
        }
    }

    /// The exposition text. `replicas` gives `gateway_service_count` per function.
    public func render(replicas: [String: Int]) -> String {
        let snapshot = state.withLock { $0 }
        var out = ""
        out += "# HELP gateway_function_invocation_total Function metrics\n"
        out += "# TYPE gateway_function_invocation_total counter\n"
        for (series, value) in snapshot.total.sorted(by: Self.order) {
            out +=
                "gateway_function_invocation_total{code=\"\(series.code)\",function_name=\"\(Self.escape(series.function))\"} \(value)\n"
        }
        out += "# HELP gateway_functions_seconds Function time taken\n"
        out += "# TYPE gateway_functions_seconds histogram\n"
        for (series, histogram) in snapshot.seconds.sorted(by: Self.order) {
            let labels = "code=\"\(series.code)\",function_name=\"\(Self.escape(series.function))\""
            for (index, bound) in Self.buckets.enumerated() {
                out +=
                    "gateway_functions_seconds_bucket{\(labels),le=\"\(Self.number(bound))\"} \(histogram.counts[index])\n"
            }
            out += "gateway_functions_seconds_bucket{\(labels),le=\"+Inf\"} \(histogram.count)\n"
            out += "gateway_functions_seconds_sum{\(labels)} \(Self.number(histogram.sum))\n"
            out += "gateway_functions_seconds_count{\(labels)} \(histogram.count)\n"
        }
        out += "# HELP gateway_function_invocation_started The total number of function HTTP requests started.\n"
        out += "# TYPE gateway_function_invocation_started counter\n"
        for (function, value) in snapshot.started.sorted(by: { $0.key < $1.key }) {
            out += "gateway_function_invocation_started{function_name=\"\(Self.escape(function))\"} \(value)\n"
        }
        out += "# HELP gateway_service_count Current count of replicas for function\n"
        out += "# TYPE gateway_service_count gauge\n"
        for (function, count) in replicas.sorted(by: { $0.key < $1.key }) {
            out += "gateway_service_count{function_name=\"\(Self.escape(function))\"} \(count)\n"
        }
        out += ProcessMetrics.render(startTime: startTime)
        return out
    }

    private static func order(_ lhs: (key: Series, value: some Any), _ rhs: (key: Series, value: some Any)) -> Bool {
        (lhs.key.function, lhs.key.code) < (rhs.key.function, rhs.key.code)
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

/// The standard `process_*` metrics from /proc/self.
enum ProcessMetrics {
    static func render(startTime: Date) -> String {
        var out = ""
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            // Fields after "(comm)": state is field 3; utime 14, stime 15, vsize 23, rss 24 (1-based).
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 22, let user = Double(fields[11]), let system = Double(fields[12]),
                let virtual = Double(fields[20]), let resident = Double(fields[21])
            {
                out += "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
                out += "# TYPE process_cpu_seconds_total counter\n"
                out += "process_cpu_seconds_total \((user + system) / ticks)\n"
                out += "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
                out += "# TYPE process_virtual_memory_bytes gauge\n"
                out += "process_virtual_memory_bytes \(GatewayMetrics.number(virtual))\n"
                out += "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                out += "# TYPE process_resident_memory_bytes gauge\n"
                out += "process_resident_memory_bytes \(GatewayMetrics.number(resident * pageSize))\n"
            }
        }
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        out += "# HELP process_open_fds Number of open file descriptors.\n"
        out += "# TYPE process_open_fds gauge\n"
        out += "process_open_fds \(fds)\n"
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            out += "# HELP process_max_fds Maximum number of open file descriptors.\n"
            out += "# TYPE process_max_fds gauge\n"
            out += "process_max_fds \(limit.rlim_cur)\n"
        }
        out += "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
        out += "# TYPE process_start_time_seconds gauge\n"
        out += "process_start_time_seconds \(GatewayMetrics.number(startTime.timeIntervalSince1970.rounded()))\n"
        return out
    }
}
