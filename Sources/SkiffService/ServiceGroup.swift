import Dispatch
import Glibc

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
    private let signals: [Int32]

    public init(services: [any Service], signals: [Int32] = [SIGTERM, SIGINT]) {
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
            if !signals.isEmpty {
                let signals = self.signals
                group.addTask { await SignalWaiter.wait(for: signals) }
            }
            let first = await group.next() ?? .cancelled
            group.cancelAll()
            for await _ in group {}
            return first
        }
    }
}

/// Turns the first of some signals into an async result, through Dispatch signal sources (the signals' default
/// actions are disabled while waiting). Cancellation ends the wait.
enum SignalWaiter {
    static func wait(for signals: [Int32]) async -> ServiceGroup.Exit {
        let queue = DispatchQueue(label: "skiff.signals")
        let box = SourceBox()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ServiceGroup.Exit, Never>) in
                queue.sync {
                    box.continuation = continuation
                    for number in signals {
                        signal(number, SIG_IGN)
                        let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                        source.setEventHandler { box.finish(.signal(number)) }
                        source.resume()
                        box.sources.append(source)
                    }
                }
            }
        } onCancel: {
            queue.async { box.finish(.cancelled) }
        }
    }

    /// State of one wait, touched only on the signal queue.
    private final class SourceBox: @unchecked Sendable {
        // @unchecked: every access happens on the serial queue `wait` creates.
        var continuation: CheckedContinuation<ServiceGroup.Exit, Never>?
        var sources: [any DispatchSourceSignal] = []

        func finish(_ exit: ServiceGroup.Exit) {
            for source in sources { source.cancel() }
            sources.removeAll()
            continuation?.resume(returning: exit)
            continuation = nil
        }
    }
}
