import Foundation
import Glibc
import SkiffLog
import SkiffPOSIX
import SkiffSystemd
import SkiffTestSupport
import Testing

@Suite("systemd integration", .serialized)
struct SystemdTests {
    /// sd_notify for real: a datagram socket stands in for the service manager.
    @Test func notifierSendsStatesToNotifySocket() async throws {
        let socket = try NotifySocket(path: "/tmp/skiff-notify-\(getpid()).sock")
        defer { ProcessEnvironment.unset("NOTIFY_SOCKET") }
        let notifier = SystemdNotifier()
        #expect(!notifier.isActive)
        #expect(!notifier.notify("READY=1"))
        ProcessEnvironment.set("NOTIFY_SOCKET", socket.path)
        #expect(notifier.isActive)
        notifier.ready(status: "serving")
        notifier.watchdog()
        notifier.stopping()
        let received = try await socket.receive(until: { $0.count >= 3 })
        #expect(received == ["READY=1\nSTATUS=serving", "WATCHDOG=1", "STOPPING=1"])
    }

    /// A manager that does not read: sd_notify would block once the socket queue is full. The notifier's callers
    /// must not (the daemon's cooperative threads have to stay free to handle SIGTERM).
    @Test func aSocketNobodyReadsNeverBlocksTheCaller() async throws {
        let deaf = try NotifySocket(reads: false)
        defer { ProcessEnvironment.unset("NOTIFY_SOCKET") }
        ProcessEnvironment.set("NOTIFY_SOCKET", deaf.path)
        let notifier = SystemdNotifier()
        let started = ContinuousClock.now
        for _ in 0..<200 {
            notifier.watchdog()
            notifier.status("busy")
        }
        notifier.stopping(timeout: .milliseconds(300))
        // The alternative is blocking for good on a socket nobody reads; a loaded machine is merely slow.
        #expect(ContinuousClock.now - started < .seconds(60))
    }

    @Test func watchdogIntervalIsHalfOfWatchdogSec() {
        defer {
            ProcessEnvironment.unset("WATCHDOG_USEC")
            ProcessEnvironment.unset("WATCHDOG_PID")
        }
        #expect(SystemdNotifier().watchdogPingInterval == nil)
        ProcessEnvironment.set("WATCHDOG_USEC", "4000000")
        ProcessEnvironment.set("WATCHDOG_PID", String(getpid()))
        #expect(SystemdNotifier().watchdogPingInterval == .seconds(2))
        // Meant for another process: not ours to ping.
        ProcessEnvironment.set("WATCHDOG_PID", "1")
        #expect(SystemdNotifier().watchdogPingInterval == nil)
    }

    @Test(arguments: [("function", "FUNCTION"), ("call_id", "CALL_ID"), ("call.id", "CALL_ID"), ("_x-1", "X_1")])
    func metadataKeysBecomeJournalFieldNames(_ key: String, _ field: String) {
        #expect(Journal.fieldName(key) == field)
    }

    @Test func loggerFiltersByLevelAndMergesMetadata() {
        let memory = MemoryLogHandler()
        let logger = Logger(label: "t", level: .info, metadata: ["a": "1"], handler: memory).with(["b": "2"])
        logger.debug("hidden")
        logger.warning("shown", ["c": "3"])
        #expect(memory.all.count == 1)
        #expect(memory.all.first?.metadata == ["a": "1", "b": "2", "c": "3"])
        #expect(memory.all.first?.level.syslogPriority == 4)
    }
}
