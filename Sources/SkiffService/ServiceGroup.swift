/// Runs services as child tasks of one task group: the daemon's root. SIGTERM or SIGINT cancels the group (each
/// service then shuts down gracefully); a service that returns or throws stops the others too, because a daemon
/// missing a part should exit and let systemd restart it rather than limp on.
public struct ServiceGroup: Sendable {
    /// Why the group stopped.
    public enum Exit: Sendable, Equatable {
        case signal(Int32)
        case serviceFinished(String)
        case serviceFailed(String, String)
        case cancelled
    }

    private let services: [any Service]
    private let signals: SignalListener?

    /// `signals` should be created before the services start, so no early signal is lost.
    public init(services: [any Service], signals: SignalListener?) {
        self.services = services
        self.signals = signals
    }

    /// Runs until a signal arrives, a service ends, or the calling task is cancelled. Returns why.
    public func run() async -> Exit {
        await withTaskGroup(of: Exit.self) { group in
            for service in services {
                group.addTask {
                    do {
                        try await service.run()
                        return Task.isCancelled ? .cancelled : .serviceFinished(service.name)
                    } catch {
                        return Task.isCancelled ? .cancelled : .serviceFailed(service.name, "\(error)")
                    }
                }
            }
            if let signals {
                group.addTask { await signals.wait().map { .signal($0) } ?? .cancelled }
            }
            let first = await group.next() ?? .cancelled
            group.cancelAll()
            for await _ in group {}
            return first
        }
    }
}
