import Foundation
import Glibc
import SkiffMetrics
import SkiffPOSIX
import Synchronization

/// The gateway's Prometheus metrics, named and labelled as OpenFaaS names them so that existing dashboards and
/// alert rules work: `gateway_function_invocation_total{function_name,code}`, `gateway_functions_seconds`
/// (histogram), `gateway_function_invocation_started{function_name}`, `gateway_service_count{function_name}`;
/// plus the process's own `process_*` family. Two short lock holds per invocation.
public final class GatewayMetrics: Sendable {
    private struct Series: Hashable {
        var function: String
        var code: Int

        var labels: [(String, String)] { [("code", String(code)), ("function_name", function)] }
    }

    private struct State {
        var total: [Series: UInt64] = [:]
        var seconds: [Series: PrometheusHistogram] = [:]
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
            state.seconds[series, default: PrometheusHistogram()].observe(seconds)
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
        var out = PrometheusText()
        out.family("gateway_function_invocation_total", type: "counter", help: "Function metrics")
        for (series, value) in snapshot.total.sorted(by: Self.order) {
            out.sample("gateway_function_invocation_total", series.labels, Double(value))
        }
        out.family("gateway_functions_seconds", type: "histogram", help: "Function time taken")
        for (series, histogram) in snapshot.seconds.sorted(by: Self.order) {
            out.histogram("gateway_functions_seconds", series.labels, histogram)
        }
        out.family(
            "gateway_function_invocation_started", type: "counter",
            help: "The total number of function HTTP requests started.")
        for (function, value) in snapshot.started.sorted(by: { $0.key < $1.key }) {
            out.sample("gateway_function_invocation_started", [("function_name", function)], Double(value))
        }
        out.family("gateway_service_count", type: "gauge", help: "Current count of replicas for function")
        for (function, count) in replicas.sorted(by: { $0.key < $1.key }) {
            out.sample("gateway_service_count", [("function_name", function)], Double(count))
        }
        ProcessMetrics.render(startTime: startTime, into: &out)
        return out.text
    }

    private static func order(_ lhs: (key: Series, value: some Any), _ rhs: (key: Series, value: some Any)) -> Bool {
        (lhs.key.function, lhs.key.code) < (rhs.key.function, rhs.key.code)
    }
}

/// The standard `process_*` metrics from /proc/self.
enum ProcessMetrics {
    static func render(startTime: Date, into out: inout PrometheusText) {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let stat = try? ProcessStat.read() {
            out.family(
                "process_cpu_seconds_total", type: "counter", help: "Total user and system CPU time spent in seconds.")
            out.sample("process_cpu_seconds_total", [], Double(stat.userTicks + stat.systemTicks) / ticks)
            out.family("process_virtual_memory_bytes", type: "gauge", help: "Virtual memory size in bytes.")
            out.sample("process_virtual_memory_bytes", [], Double(stat.virtualBytes))
            out.family("process_resident_memory_bytes", type: "gauge", help: "Resident memory size in bytes.")
            out.sample("process_resident_memory_bytes", [], Double(stat.residentPages) * pageSize)
        }
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        out.family("process_open_fds", type: "gauge", help: "Number of open file descriptors.")
        out.sample("process_open_fds", [], Double(fds))
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            out.family("process_max_fds", type: "gauge", help: "Maximum number of open file descriptors.")
            out.sample("process_max_fds", [], Double(limit.rlim_cur))
        }
        out.family(
            "process_start_time_seconds", type: "gauge", help: "Start time of the process since unix epoch in seconds.")
        out.sample("process_start_time_seconds", [], startTime.timeIntervalSince1970.rounded())
    }
}
