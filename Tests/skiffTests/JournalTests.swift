import Foundation
import Glibc
import SkiffPOSIX
import SkiffTestSupport
import Testing

/// journald stood up for real, without touching the host's: inside a private mount namespace (`unshare -m`) a
/// tmpfs covers /run/systemd and journald's socket path is a bind mount of a datagram socket this test owns.
/// What arrives are journald's native-protocol datagrams, field by field.
@Suite("journald entries", .serialized)
struct JournalTests {
    static let setUp =
        "mount -t tmpfs tmpfs /run/systemd 2>/dev/null || { mkdir -p /run/systemd && mount -t tmpfs tmpfs "
        + "/run/systemd; }; mkdir -p /run/systemd/journal && touch /run/systemd/journal/socket && "
        + "mount --bind \"$SKIFF_FAKE_JOURNAL\" /run/systemd/journal/socket && "
    static let wrapper = ["/usr/bin/unshare", "--mount", "--propagation", "private"]

    /// Entries as field dictionaries (values here have no newlines, so the simple form suffices).
    static func fields(_ datagram: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in datagram.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        return fields
    }

    @Test(.enabled(if: getuid() == 0 || ProcessInfo.processInfo.environment["CI"] == "true"))
    func theLogCollectorWritesOneEntryPerLineWithTheFunctionsIdentifier() async throws {
        let journal = try NotifySocket(path: "/tmp/skiff-fake-journal-\(getpid()).sock")
        var process = ChildProcess(
            Self.wrapper[0],
            Array(Self.wrapper.dropFirst()) + [
                "/bin/sh", "-c",
                Self.setUp
                    + #"printf 'out line\nlast' | "$0" collect-logs 'auto|1000|/nonexistent' 3<&0 4<"$1" 5>/dev/null"#,
                skiffBinary(), "/tmp/skiff-stderr-\(getpid())",
            ])
        try "an error\n".write(toFile: "/tmp/skiff-stderr-\(getpid())", atomically: true, encoding: .utf8)
        defer { unlink("/tmp/skiff-stderr-\(getpid())") }
        process.environment = [
            "SKIFF_FAKE_JOURNAL": journal.path, "CONTAINER_ID": "figlet-x1y2z3", "CONTAINER_NAMESPACE": "openfaas-fn",
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        ]
        let outcome = try await process.run()
        #expect(outcome.succeeded, "\(outcome.errorText)")
        let entries = try await journal.receive(until: { $0.count >= 3 }).map(Self.fields)
        #expect(entries.count == 3)
        let byMessage = Dictionary(entries.map { ($0["MESSAGE"] ?? "", $0) }) { first, _ in first }
        #expect(Set(byMessage.keys) == ["out line", "last", "an error"])
        for entry in entries {
            #expect(entry["SYSLOG_IDENTIFIER"] == "openfaas-fn:figlet")
            #expect(entry["SKIFF_INSTANCE"] == "figlet-x1y2z3")
        }
        #expect(byMessage["out line"]?["PRIORITY"] == "6" && byMessage["an error"]?["PRIORITY"] == "3")
        #expect(byMessage["an error"]?["SKIFF_STREAM"] == "stderr")
    }

    @Test(.enabled(if: daemonPartsPresent))
    func theDaemonLogsNativeEntriesWithFields() async throws {
        let journal = try NotifySocket(path: "/tmp/skiff-fake-journal-d-\(getpid()).sock")
        let daemon = try DaemonProcess(
            environment: ["SKIFF_FAKE_JOURNAL": journal.path], wrapper: Self.wrapper, prefix: Self.setUp)
        let entries = try await journal.receive(until: { $0.contains { $0.contains("MESSAGE=ready") } }).map(
            Self.fields)
        let ready = try #require(entries.first { $0["MESSAGE"] == "ready" })
        #expect(ready["SYSLOG_IDENTIFIER"] == "skiff" && ready["PRIORITY"] == "6")
        #expect(ready["LISTEN"] == "127.0.0.1:0" && ready["STATE_DIR"] == daemon.state.path)
        #expect(ready["CODE_FILE"]?.hasPrefix("skiff/") == true)
        #expect(await daemon.terminate())
        await daemon.cleanUp()
    }
}
