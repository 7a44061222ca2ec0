import Foundation
import Glibc
import SkiffAPI
import SkiffContainerd
import SkiffPOSIX
import SkiffTestSupport
import Testing

@testable import SkiffRuntime

@Suite("runtime models")
struct ModelTests {
    @Test(arguments: [
        ("128Mi", Int64(134_217_728)), ("1G", 1_000_000_000), ("1Gi", 1_073_741_824), ("64M", 64_000_000),
        ("1048576", 1_048_576), ("1.5Ki", 1536), ("1e3", 1000),
    ])
    func memoryQuantities(_ text: String, _ bytes: Int64) throws {
        #expect(try Quantity.memoryBytes(text, field: "limits.memory") == bytes)
    }

    @Test(arguments: [("0.5", Int64(500)), ("500m", 500), ("1", 1000), ("2.25", 2250), ("100m", 100)])
    func cpuQuantities(_ text: String, _ milli: Int64) throws {
        #expect(try Quantity.milliCPU(text, field: "limits.cpu") == milli)
    }

    @Test(arguments: ["", "lots", "12XB", "-1Mi", "0", "Mi", "1..2"])
    func badQuantitiesSayWhatToWrite(_ text: String) {
        #expect {
            _ = try Quantity.memoryBytes(text, field: "limits.memory")
        } throws: { error in
            "\(error)".contains("limits.memory")
        }
    }

    @Test(arguments: [
        ("30s", Duration.seconds(30)), ("1m30s", .seconds(90)), ("500ms", .milliseconds(500)), ("2h", .seconds(7200)),
        ("0", .zero),
    ])
    func goDurations(_ text: String, _ duration: Duration) throws {
        #expect(try GoDuration.parse(text, field: "t") == duration)
    }

    @Test(arguments: ["echo", "a", "my-fn-2", String(repeating: "a", count: 63)])
    func validNames(_ name: String) { #expect(ResourceName.isValid(name)) }

    @Test(arguments: ["", "Echo", "-a", "a-", "a.b", "a_b", "../x", String(repeating: "a", count: 64)])
    func invalidNames(_ name: String) { #expect(!ResourceName.isValid(name)) }

    @Test func subnetsGiveTheBridgeAddress() throws {
        let subnet = try Subnet(parsing: "10.62.7.9/16")
        #expect(subnet.description == "10.62.0.0/16" && subnet.gatewayAddress == "10.62.0.1")
        #expect(subnet.contains("10.62.200.3") && !subnet.contains("10.63.0.1"))
        for bad in ["10.62.0.0", "10.62.0.0/33", "300.1.1.1/24", "a.b.c.d/8"] {
            #expect(throws: FunctionRuntimeError.self) { try Subnet(parsing: bad) }
        }
    }

    @Test func definitionsAreValidatedBeforeAnythingRuns() {
        let good = FunctionDefinition(name: "fn", image: "figlet", limits: .init(memory: "128Mi", cpu: "0.5"))
        #expect(throws: Never.self) { try good.validate() }
        var collision = good
        collision.labels = ["com.openfaas.annotations.topic": "x"]
        collision.annotations = ["topic": "y"]
        var badImage = good
        badImage.image = "UPPER"
        var badSecret = good
        badSecret.secrets = ["../../etc/shadow"]
        var badGrace = good
        badGrace.envVars = ["grace_period": "soon"]
        for definition in [collision, badImage, badSecret, badGrace] {
            #expect(throws: FunctionRuntimeError.self) { try definition.validate() }
        }
    }

    /// Durations are bounded at deploy (a day for timeouts, an hour for grace), so no timer built from them can
    /// overflow later; the message names the field and the bound.
    @Test(arguments: [
        ("exec_timeout", "6000000h", "24h"), ("write_timeout", "25h", "24h"),
        ("read_timeout", "99999999999999999999h", "24h"),
        ("grace_period", "99999999999999999h", "1h"), ("grace_period", "2h", "1h"),
        ("healthcheck_interval", "48h", "24h"),
    ])
    func durationsAreBoundedAtDeploy(_ key: String, _ value: String, _ bound: String) {
        let definition = FunctionDefinition(name: "fn", image: "figlet", envVars: [key: value])
        do {
            try definition.validate()
            Issue.record("\(key)=\(value) was accepted")
        } catch {
            #expect(error.description.contains(key) && error.description.contains(bound), "\(error)")
        }
        let fine = FunctionDefinition(name: "fn", image: "figlet", envVars: [key: "30m"])
        #expect(throws: Never.self) { try fine.validate() }
    }

    @Test(arguments: ["0", "15", "abc", "1000001", "-1"])
    func pidLimitsOutOfRangeAreRefused(_ value: String) {
        let definition = FunctionDefinition(name: "fn", image: "figlet", labels: ["com.openfaas.pids": value])
        #expect(throws: FunctionRuntimeError.self) { try definition.validate() }
    }

    /// A record an older release wrote, or a damaged file, is reported and skipped; the others are restored.
    @Test func unrestorableRecordsAreSkippedNotFatal() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-records-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let state = DesiredState(stateDirectory: folder)
        let good = FunctionRecord(
            definition: FunctionDefinition(name: "good", namespace: "ns", image: "figlet"), replicas: 1,
            createdAt: Date(timeIntervalSince1970: 0), generation: "g1")
        try state.save(good)
        var invalid = good
        invalid.definition.name = "old"
        invalid.definition.envVars = ["grace_period": "99999999999999999h"]
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        try encoder.encode(invalid).write(to: URL(fileURLWithPath: "\(folder)/functions/ns/old.json"))
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: "\(folder)/functions/ns/torn.json"))
        let (records, unreadable) = state.loadAll()
        #expect(records.map(\.definition.name) == ["good"])
        #expect(unreadable.map { URL(fileURLWithPath: $0).lastPathComponent }.sorted() == ["old.json", "torn.json"])
        // Removing a record is durable and leaves the others.
        try state.delete(namespace: "ns", name: "good")
        #expect(state.loadAll().records.isEmpty)
    }
}

/// Reading logs back from journald, with a stand-in `journalctl` that records its arguments and prints what
/// `journalctl -o json` prints (this VM runs no journald; the writing side is tested against a socket).
@Suite("journald log reading")
struct JournalReadingTests {
    @Test func queriesBecomeJournalctlArgumentsAndJSONLinesBecomeEntries() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-jr-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let script = """
            #!/bin/sh
            echo "$@" > \(folder)/arguments
            echo '{"MESSAGE":"hello","__REALTIME_TIMESTAMP":"1700000000000000","SKIFF_INSTANCE":"fn-abc123","SKIFF_STREAM":"stdout","_PID":"9"}'
            echo '{"MESSAGE":[104,105,255],"__REALTIME_TIMESTAMP":"1700000001500000","SKIFF_STREAM":"stderr"}'
            echo 'not json'
            """
        try await writeExecutable(script, to: "\(folder)/journalctl")
        var configuration = RuntimeConfiguration(stateDirectory: folder, logCollector: "/bin/true")
        configuration.logSink = .journald
        configuration.journalctlPath = "\(folder)/journalctl"
        let logs = FunctionLogs(configuration: configuration)
        var entries: [FunctionLogEntry] = []
        let query = LogQuery(name: "fn", namespace: "ns", since: Date(timeIntervalSince1970: 1_600_000_000), tail: 5)
        for try await entry in try logs.read(query) { entries.append(entry) }
        let arguments = try String(contentsOfFile: "\(folder)/arguments", encoding: .utf8)
        #expect(arguments == "--no-pager -o json -t ns:fn --since @1600000000 -n 5\n")
        #expect(entries.count == 2)
        #expect(entries.first?.text == "hello" && entries.first?.instance == "fn-abc123")
        #expect(entries.first?.timestamp == Date(timeIntervalSince1970: 1_700_000_000))
        #expect(entries.last?.text.hasPrefix("hi") == true && entries.last?.stream == "stderr")
        #expect(entries.allSatisfy { $0.name == "fn" && $0.namespace == "ns" })
    }
}

/// State written when the disk is full or the write fails: the old value stays, on disk and in memory.
@Suite("durable state under failure", .enabled(if: getuid() == 0 || RealParts.isCI))
struct DurableStateTests {
    /// A tmpfs of 64 KiB, filled, as a full disk: replacing a secret fails and leaves the old value whole (an
    /// in-place rewrite once truncated it first and left it empty).
    @Test func aSecretWrittenToAFullDiskKeepsItsOldValue() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-full-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        _ = try await ChildProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", folder]).runChecked()
        defer {
            umount2(folder, Int32(MNT_DETACH))
            try? FileManager.default.removeItem(atPath: folder)
        }
        let store = SecretStore(stateDirectory: folder)
        try store.write(namespace: "ns", name: "key", value: Array("old-value".utf8))
        // Fill what is left.
        _ = try? await ChildProcess("/bin/dd", ["if=/dev/zero", "of=\(folder)/filler", "bs=4096"]).run()
        #expect(throws: (any Error).self) {
            try store.write(namespace: "ns", name: "key", value: [UInt8](repeating: 0x41, count: 32 * 1024))
        }
        #expect(try store.value(namespace: "ns", name: "key") == Array("old-value".utf8))
    }
}

@Suite("image pruning choices")
struct ImagePruneChoiceTests {
    static func image(_ name: String, builtSecondsAgo: Double?) -> ImageSummary {
        ImageSummary(
            name: name, namespace: "ns", digest: "sha256:x", size: 1, uniqueSize: 1, functions: [],
            builtAt: builtSecondsAgo.map { Date(timeIntervalSince1970: 1_000_000 - $0) })
    }

    @Test func theDaemonsOwnPruningTakesOnlyBuildsOldEnough() {
        let cutoff = Date(timeIntervalSince1970: 1_000_000 - 600)
        let filter = ImagePruneFilter(onlyBuilt: true, builtBefore: cutoff)
        #expect(filter.admits(Self.image("old", builtSecondsAgo: 3600)))
        #expect(!filter.admits(Self.image("young", builtSecondsAgo: 60)))
        #expect(!filter.admits(Self.image("by-hand", builtSecondsAgo: nil)))
        // A prune on request takes every unused image.
        #expect(ImagePruneFilter().admits(Self.image("by-hand", builtSecondsAgo: nil)))
    }

    @Test func oldestBuildsGoFirstAndTiesAreBrokenByName() {
        let images = [
            Self.image("b", builtSecondsAgo: 10), Self.image("c", builtSecondsAgo: 500),
            Self.image("a", builtSecondsAgo: 10), Self.image("z", builtSecondsAgo: nil),
        ]
        #expect(images.sorted(by: ImagePruneFilter.oldestFirst).map(\.name) == ["z", "c", "a", "b"])
    }

    @Test(arguments: [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (17_039_720, "17 MB"), (154_200_000, "154 MB")])
    func byteCountsReadAsDiskToolsPrintThem(_ bytes: Int, _ text: String) {
        #expect(ByteCount.describe(bytes) == text)
    }
}

@Suite("ctr pull's progress table")
struct PullMeterTests {
    /// Frames as ctr 1.6 wrote them while pulling a 140 MiB layer from a registry on 127.0.0.1 (colour escapes
    /// kept; ctr cuts `110.0 MiB` to `110.0 Mi` once the figure widens).
    static func frame(_ done: String) -> [String] {
        [
            "127.0.0.1:5999/skiff/python3:bookworm: resolved       |\u{1B}[32m++++++++\u{1B}[0m| ",
            "manifest-sha256:3ab1: done           |\u{1B}[32m++++++++\u{1B}[0m| ",
            "layer-sha256:989b: downloading    |\u{1B}[32m++\u{1B}[0m------| \(done)/140.4 MiB ",
            "config-sha256:7e1e: done           |\u{1B}[32m++++++++\u{1B}[0m| ",
            "elapsed: 0.7 s                  total:  110.0 (156.0 MiB/s)                                     ",
        ]
    }

    @Test func framesBecomeBytesDoneOfBytesKnown() {
        let meter = PullMeter(activity: "pulling x")
        var seen: [TransferProgress] = []
        for line in Self.frame("9.0 MiB") + Self.frame("110.0 Mi") {
            if let progress = meter.read(line) { seen.append(progress) }
        }
        let total = Int(140.4 * 1_048_576)
        #expect(seen.map(\.total) == [total, total])
        #expect(seen.map(\.done) == [9 * 1_048_576, 110 * 1_048_576])
        #expect(seen.allSatisfy { $0.activity == "pulling x" })
        // Once ctr has succeeded every blob seen is whole.
        #expect(meter.finished() == TransferProgress(activity: "pulling x", done: total, total: total))
    }

    @Test func aBlobThatFinishesCountsWhole() {
        let meter = PullMeter(activity: "p")
        _ = meter.read("layer-sha256:aa: downloading |++--| 512 B/1.0 KiB")
        _ = meter.read("layer-sha256:aa: done |++++|")
        #expect(meter.read("elapsed: 0.1 s total: 1.0 K") == TransferProgress(activity: "p", done: 1024, total: 1024))
    }
}

@Suite("endpoint table: waiting without polling")
struct EndpointTableWaitTests {
    static let replica = ReplicaEndpoint(id: "r1", host: "10.0.0.2", port: 8080)

    @Test func aWaiterGetsTheReplicaPublishedAfterItStartedWaiting() async {
        let table = EndpointTable()
        let waiter = Task { await table.acquire("ns", "fn", deadline: .now + .seconds(600)) }
        // Published only once the waiter is parked or about to be: either way it must see the publication.
        await Task.yield()
        table.set("ns", "fn", [Self.replica])
        #expect(await waiter.value == Self.replica)
        #expect(table.inFlight("r1") == 1)
    }

    @Test func withNothingPublishedTheWaitEndsAtItsDeadlineOrOnCancellation() async {
        let table = EndpointTable()
        #expect(await table.acquire("ns", "fn", deadline: .now + .milliseconds(20)) == nil)
        let cancelled = Task { await table.acquire("ns", "fn", deadline: .now + .seconds(600)) }
        cancelled.cancel()
        #expect(await cancelled.value == nil)
        // Another function's publication wakes the waiter, which finds nothing and waits on to its deadline.
        let other = Task { await table.acquire("ns", "fn", deadline: .now + .milliseconds(200)) }
        table.set("ns", "other", [Self.replica])
        #expect(await other.value == nil)
    }

    @Test func waitingUntilIdleEndsWithTheLastRelease() async {
        let table = EndpointTable()
        table.set("ns", "fn", [Self.replica])
        let first = table.acquire("ns", "fn")
        let second = table.acquire("ns", "fn")
        let idle = Task { await table.waitUntilIdle(["r1"], deadline: .now + .seconds(600)) }
        if let first { table.release(first) }
        #expect(table.inFlight("r1") == 1)
        if let second { table.release(second) }
        await idle.value
        #expect(table.inFlight("r1") == 0)
    }
}

@Suite("restart back-off")
struct RestartPolicyTests {
    let policy = RestartPolicy(initialDelay: .seconds(1), maximumDelay: .seconds(30))

    @Test func theDelayDoublesWithEachCrashInARowUpToTheMaximum() {
        #expect(
            (1...7).map { policy.delay(afterConsecutiveCrashes: $0) } == [1, 2, 4, 8, 16, 30, 30].map { .seconds($0) })
        #expect(policy.delay(afterConsecutiveCrashes: 10_000) == .seconds(30))
    }

    @Test func aReplicaThatRanForAMinuteStartsOverFromTheInitialDelay() {
        #expect(policy.consecutiveCrashes(before: 5, ranFor: .seconds(61)) == 1)
        #expect(policy.consecutiveCrashes(before: 5, ranFor: .seconds(59)) == 6)
        #expect(policy.consecutiveCrashes(before: 0, ranFor: nil) == 1)
    }
}
