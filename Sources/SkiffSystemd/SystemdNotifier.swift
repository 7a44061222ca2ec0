import CSystemd
import Dispatch
import Glibc
import Synchronization

/// The sd_notify protocol: READY, STATUS, STOPPING and WATCHDOG keep-alives to the service manager. Every call
/// is a no-op when `NOTIFY_SOCKET` is unset (not started by systemd), so the daemon calls them unconditionally.
///
/// Messages are sent in order from a serial queue of their own, never from the caller's thread: sd_notify blocks
/// while the manager's socket queue is full (a Unix datagram queue holds only about ten messages), and a blocked
/// cooperative thread could keep the daemon from ever handling SIGTERM. While a keep-alive is still waiting to be
/// sent, further ones are dropped rather than queued.
public struct SystemdNotifier: Sendable {
    private let sender: Sender

    public init() { sender = Sender() }

    private final class Sender: Sendable {
        let queue = DispatchQueue(label: "skiff.sd-notify")
        let keepAlivePending = Atomic<Bool>(false)
    }

    /// Whether a service manager listens (NOTIFY_SOCKET set).
    public var isActive: Bool { getenv("NOTIFY_SOCKET") != nil }

    /// Queues `state` for the manager; false when none listens.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        guard isActive else { return false }
        sender.queue.async { _ = sd_notify(0, state) }
        return true
    }

    public func ready(status: String) { notify("READY=1\nSTATUS=\(status)") }
    public func status(_ text: String) { notify("STATUS=\(text)") }

    public func watchdog() {
        guard isActive else { return }
        let sender = self.sender
        guard
            sender.keepAlivePending.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing)
                .exchanged
        else { return }
        sender.queue.async {
            sender.keepAlivePending.store(false, ordering: .releasing)
            _ = sd_notify(0, "WATCHDOG=1")
        }
    }

    /// STOPPING=1, waiting up to `timeout` for it (and anything queued before it) to be sent, so that it goes out
    /// before the process exits.
    public func stopping(timeout: Duration = .seconds(2)) {
        guard notify("STOPPING=1") else { return }
        let sent = DispatchSemaphore(value: 0)
        sender.queue.async { sent.signal() }
        let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        _ = sent.wait(timeout: .now() + .nanoseconds(Int(nanoseconds)))
    }

    /// The interval at which to send WATCHDOG=1: half of `WatchdogSec=`, or nil when no watchdog is armed for
    /// this process.
    public var watchdogPingInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds / 2))
    }
}
