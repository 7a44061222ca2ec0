import SkiffPOSIX

/// The standard `process_*` family from /proc/self, as every Prometheus client library exports it.
public struct ProcessMetrics: MetricsCollector {
    /// Seconds since the Unix epoch when the process started.
    private let startTime: Double

    public init(startTime: Double) {
        self.startTime = startTime
    }

    public func collect() async -> [MetricFamily] {
        var families: [MetricFamily] = []
        if let stat = try? ProcessStat.read() {
            families += [
                .single(
                    "process_cpu_seconds_total", .counter, help: "Total user and system CPU time spent in seconds.",
                    Double(stat.userTicks + stat.systemTicks) / ProcessStat.ticksPerSecond),
                .single(
                    "process_virtual_memory_bytes", .gauge, help: "Virtual memory size in bytes.",
                    Double(stat.virtualBytes)),
                .single(
                    "process_resident_memory_bytes", .gauge, help: "Resident memory size in bytes.",
                    Double(stat.residentPages) * ProcessStat.pageSize),
            ]
        }
        if let open = ProcessStat.openDescriptorCount() {
            families.append(.single("process_open_fds", .gauge, help: "Number of open file descriptors.", Double(open)))
        }
        if let limit = ResourceLimits.openFilesLimit() {
            families.append(
                .single("process_max_fds", .gauge, help: "Maximum number of open file descriptors.", Double(limit)))
        }
        families.append(
            .single(
                "process_start_time_seconds", .gauge, help: "Start time of the process since unix epoch in seconds.",
                startTime.rounded()))
        return families
    }
}
