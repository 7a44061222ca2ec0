import CSystemd
import Glibc

/// The sd_notify protocol: READY, STATUS, STOPPING and WATCHDOG keep-alives to the service manager. Every call
/// is a no-op when `NOTIFY_SOCKET` is unset (not started by systemd), so the daemon calls them unconditionally.
public struct SystemdNotifier: Sendable {
    public init() {}

    /// Whether a service manager listens (NOTIFY_SOCKET set).
    public var isActive: Bool { getenv("NOTIFY_SOCKET") != nil }

    @discardableResult
    public func notify(_ state: String) -> Bool { sd_notify(0, state) > 0 }

    public func ready(status: String) { notify("READY=1\nSTATUS=\(status)") }
    public func status(_ text: String) { notify("STATUS=\(text)") }
    public func stopping() { notify("STOPPING=1") }
    public func watchdog() { notify("WATCHDOG=1") }

    /// The interval at which to send WATCHDOG=1: half of `WatchdogSec=`, or nil when no watchdog is armed for
    /// this process.
    public var watchdogPingInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds / 2))
    }
}
