import Foundation
import Glibc
import SkiffHTTP
import SkiffLog
import SkiffPOSIX
import SkiffRuntime
import Synchronization

/// One loop group for the test process.
public let testGroup: EventLoopGroup = try! EventLoopGroup(loopCount: 2)
public let testClient = HTTPClient(group: testGroup)

/// The real parts these tests need. Under CI=true a missing part fails the tests instead of skipping them.
public enum RealParts {
    public static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"
    public static let missing: [String] = {
        var missing: [String] = []
        if getuid() != 0 { missing.append("root") }
        if !FileManager.default.fileExists(atPath: "/run/containerd/containerd.sock") { missing.append("containerd") }
        for tool in [
            "/usr/bin/ctr", "/usr/sbin/runc", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/bin/busybox",
        ]
        where !FileManager.default.fileExists(atPath: tool) {
            missing.append(tool)
        }
        return missing
    }()
    /// Run when everything is there, and always under CI (where a missing part must fail).
    public static let enabled = missing.isEmpty || isCI
}

/// A private runtime instance: its own containerd namespace, bridge, /24 subnet and state directory, all
/// removed afterwards. It never touches openfaas0, openfaas-fn or another instance's containers.
public final class RuntimeHarness: Sendable {
    public let namespace: String
    public let bridge: String
    public let subnet: String
    public let stateDirectory: String
    public let logs = MemoryLogHandler()
    public let runtime: ContainerdRuntime
    /// The runtime's event watcher (crash restarts), as the daemon runs it.
    public let watcher: Task<Void, Never>

    static let counter = Mutex<Int>(0)

    public init(
        deployTimeout: Duration = .seconds(30), gracePeriod: Duration = .seconds(5), stateDirectory: String? = nil,
        namespace: String? = nil, bridge: String? = nil, subnet: String? = nil,
        adjust: (inout RuntimeConfiguration) -> Void = { _ in }
    ) async throws {
        if !RealParts.missing.isEmpty {
            throw HarnessError(
                "missing real parts: \(RealParts.missing.joined(separator: ", ")); run scripts/test as root")
        }
        let number = Self.counter.withLock { value -> Int in
            value += 1
            return value
        }
        let pid = Int(getpid())
        let unique = (pid &* 31 &+ number) % 250
        self.namespace = namespace ?? "skiff-test-\(pid)-\(number)"
        self.bridge = bridge ?? "skt\(pid % 10000)n\(number)"
        // 10.201–10.249: 10.250 is the daemon tests' (`DaemonProcess`), 10.253 the simulated LAN hosts'. An
        // overlap gave two bridges one subnet, and a test's packets went to the other bridge.
        self.subnet = subnet ?? "10.\(201 + number % 49).\(freeThirdOctet(10, 201 + number % 49, from: unique)).0/24"
        self.stateDirectory =
            stateDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("skiff-rt-\(UUID())").path
        var configuration = RuntimeConfiguration(stateDirectory: self.stateDirectory, logCollector: skiffBinary())
        configuration.defaultNamespace = self.namespace
        configuration.bridgeName = self.bridge
        configuration.subnet = self.subnet
        configuration.logSink = .files
        configuration.deployTimeout = deployTimeout
        configuration.gracePeriod = gracePeriod
        configuration.initialRestartDelay = .milliseconds(200)
        adjust(&configuration)
        runtime = try ContainerdRuntime(
            configuration: configuration, group: testGroup,
            logger: Logger(label: "test", level: .debug, handler: logs))
        try await runtime.start()
        let runtime = self.runtime
        watcher = Task { try? await runtime.run() }
    }

    /// Stops watching, as a killed daemon would; containers are left as they are.
    public func abandon() { watcher.cancel() }

    /// A second runtime over the same state directory, as after a daemon restart.
    public func restarted() async throws -> RuntimeHarness {
        try await RuntimeHarness(
            stateDirectory: stateDirectory, namespace: namespace, bridge: bridge, subnet: subnet)
    }

    public func importImage(
        _ reference: String, command: [String]? = nil, user: String? = nil, echoRoot: Bool = false
    ) async throws {
        let file = try TestImages.file(reference: reference, command: command, user: user, echoRoot: echoRoot)
        defer { try? FileManager.default.removeItem(atPath: file) }
        _ = try await runtime.importImage(archive: file, namespace: namespace)
    }

    /// GET http://ADDRESS:8080/PATH from the host, over the bridge.
    public func get(_ endpoint: ReplicaEndpoint, _ path: String) async throws -> (status: Int, body: String) {
        let (head, body) = try await testClient.fetch(
            HTTPClientRequest(host: endpoint.host, port: endpoint.port, target: path), timeout: .seconds(120))
        return (head.status.code, String(decoding: body, as: UTF8.self))
    }

    public func info(_ endpoint: ReplicaEndpoint, _ query: String) async throws -> String {
        try await get(endpoint, "/cgi-bin/info?\(query)").body
    }

    public func ctr(_ arguments: [String]) async throws -> String {
        try await ChildProcess("/usr/bin/ctr", ["-n", namespace] + arguments, timeout: .seconds(30)).runChecked()
            .outputText
    }

    /// Container ids, task lines, snapshot keys of this test's namespace as ctr shows them.
    public func containerIDs() async throws -> [String] {
        try await ctr(["containers", "ls", "-q"]).split(separator: "\n").map(String.init)
    }

    /// Task id → "PID STATUS", as `ctr tasks ls` shows them (its row order is not stable).
    public func taskTable() async throws -> [String: String] {
        var table: [String: String] = [:]
        for line in try await ctr(["tasks", "ls"]).split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            if fields.count >= 3 { table[String(fields[0])] = "\(fields[1]) \(fields[2])" }
        }
        return table
    }

    public func runningTasks() async throws -> [String] {
        try await ctr(["tasks", "ls"]).split(separator: "\n").dropFirst().filter { $0.contains("RUNNING") }
            .map { String($0.split(separator: " ")[0]) }
    }

    public func snapshotKeys() async throws -> [String] {
        try await ctr(["snapshots", "ls"]).split(separator: "\n").dropFirst().map {
            String($0.split(separator: " ")[0])
        }
        .filter { $0.hasPrefix("skiff/") }
    }

    public func networkNamespaces() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []).filter {
            $0.hasPrefix("skiff-\(runtime.instanceID)-")
        }
    }

    public func allocatedAddresses() -> [String] {
        let folder = "\(stateDirectory)/cni/ipam/skiff-\(bridge)"
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter {
            $0.split(separator: ".").count == 4 && $0.first?.isNumber == true
        }
    }

    /// Everything gone: functions, containers, tasks, snapshots, network namespaces, addresses, the namespace
    /// and the bridge.
    public func tearDown() async {
        watcher.cancel()
        for function in (try? await runtime.list(namespace: namespace)) ?? [] {
            try? await runtime.remove(name: function.definition.name, namespace: namespace)
        }
        await removeInstance(namespace: namespace, bridge: bridge, subnet: subnet, stateDirectory: stateDirectory)
    }
}

/// Removes everything a Skiff instance made, whether or not its daemon is still there to do it: tasks,
/// containers, snapshots, network namespaces, images, the containerd namespace, the bridge, mounts and the state
/// directory.
public func removeInstance(namespace: String, bridge: String, subnet: String, stateDirectory: String) async {
    func ctr(_ arguments: [String]) async -> String {
        (try? await ChildProcess("/usr/bin/ctr", ["-n", namespace] + arguments, timeout: .seconds(30)).run())?
            .outputText ?? ""
    }
    for id in await ctr(["containers", "ls", "-q"]).split(separator: "\n") {
        _ = await ctr(["tasks", "delete", "--force", String(id)])
        _ = await ctr(["containers", "delete", String(id)])
    }
    for line in await ctr(["snapshots", "ls"]).split(separator: "\n").dropFirst() {
        let key = String(line.split(separator: " ")[0])
        if key.hasPrefix("skiff/") { _ = await ctr(["snapshots", "rm", key]) }
    }
    let instance = (try? String(contentsOfFile: stateDirectory + "/instance-id", encoding: .utf8))?
        .trimmingCharacters(in: .whitespacesAndNewlines)
    if let instance, !instance.isEmpty {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        where name.hasPrefix("skiff-\(instance)-") {
            _ = try? await ChildProcess("/usr/sbin/ip", ["netns", "delete", name]).run()
        }
    }
    for image in await ctr(["images", "ls", "-q"]).split(separator: "\n") {
        _ = await ctr(["images", "rm", "--sync", String(image)])
    }
    // containerd removes content in the background; the namespace can be deleted once it is empty.
    _ = await eventually(timeout: .seconds(5)) {
        (try? await ChildProcess("/usr/bin/ctr", ["namespaces", "rm", namespace]).run().succeeded) ?? true
    }
    _ = try? await ChildProcess("/usr/sbin/ip", ["link", "delete", bridge]).run()
    await removeNetworkRules(bridge: bridge, subnet: subnet)
    let rootfs = "\(stateDirectory)/rootfs"
    for ns in (try? FileManager.default.contentsOfDirectory(atPath: rootfs)) ?? [] {
        for id in (try? FileManager.default.contentsOfDirectory(atPath: "\(rootfs)/\(ns)")) ?? [] {
            umount2("\(rootfs)/\(ns)/\(id)", Int32(MNT_DETACH))
        }
    }
    try? FileManager.default.removeItem(atPath: stateDirectory)
}

/// Removes the iptables rules the CNI plugins made for one instance's network: the bridge plugin's masquerade
/// rules and chains (commented with the network's name) and the firewall plugin's per-address rules in the /24
/// `subnet`. Their DEL removes them only while the replica's network namespace exists; a reboot empties them. A
/// test that simulates a reboot, or removes an instance whose daemon is gone, removes them here. Rules are
/// deleted by their full text, never by position, because parallel tests change the chains at the same time.
public func removeNetworkRules(bridge: String, subnet: String) async {
    func shell(_ script: String) async -> [Substring] {
        let outcome = try? await ChildProcess("/bin/sh", ["-c", script], timeout: .seconds(30)).run()
        return (outcome?.outputText ?? "").split(separator: "\n")
    }
    let marker = "name: \\\"skiff-\(bridge)\\\""
    for rule in await shell("/usr/sbin/iptables -w -t nat -S POSTROUTING") where rule.contains(marker) {
        _ = await shell("/usr/sbin/iptables -w -t nat -D \(rule.dropFirst(3))")
        if let chain = rule.split(separator: " ").last, chain.hasPrefix("CNI-") {
            _ = await shell("/usr/sbin/iptables -w -t nat -F \(chain) && /usr/sbin/iptables -w -t nat -X \(chain)")
        }
    }
    // The runtime's own isolation chain for this bridge.
    let isolation = "SKIFF-ISO-\(bridge)"
    _ = await shell(
        "while /usr/sbin/iptables -w -D FORWARD -j \(isolation) 2>/dev/null; do :; done; "
            + "/usr/sbin/iptables -w -F \(isolation) 2>/dev/null; /usr/sbin/iptables -w -X \(isolation) 2>/dev/null")
    let prefix = subnet.split(separator: ".").prefix(3).joined(separator: ".") + "."
    for rule in await shell("/usr/sbin/iptables -w -S CNI-FORWARD 2>/dev/null")
    where rule.contains(" -s \(prefix)") || rule.contains(" -d \(prefix)") {
        _ = await shell("/usr/sbin/iptables -w -D \(rule.dropFirst(3))")
    }
}

public struct HarnessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A cgroup file of a replica, on cgroup v1 (`/sys/fs/cgroup/CONTROLLER/NS/ID/FILE`) or v2
/// (`/sys/fs/cgroup/NS/ID/FILE`); nil when absent.
public func cgroupValue(namespace: String, id: String, v1: (controller: String, file: String), v2 file2: String)
    -> String?
{
    let unified = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")
    let path =
        unified
        ? "/sys/fs/cgroup/\(namespace)/\(id)/\(file2)" : "/sys/fs/cgroup/\(v1.controller)/\(namespace)/\(id)/\(v1.file)"
    return (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Runs `body` with a fresh harness and always tears it down.
public func withRuntime(
    deployTimeout: Duration = .seconds(30), gracePeriod: Duration = .seconds(5),
    _ body: (RuntimeHarness) async throws -> Void
) async throws {
    let harness = try await RuntimeHarness(deployTimeout: deployTimeout, gracePeriod: gracePeriod)
    do {
        try await body(harness)
    } catch {
        // The runtime's own account of what happened, for the failure report.
        for record in harness.logs.all where record.level >= .notice {
            print("runtime \(record.level): \(record.message)")
        }
        await harness.tearDown()
        throw error
    }
    await harness.tearDown()
}

/// The built `skiff` binary (the log collector containerd's shim runs): beside the test runner.
public func skiffBinary() -> String {
    if let path = ProcessInfo.processInfo.environment["SKIFF_BINARY"] { return path }
    let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    return runner.deletingLastPathComponent().appendingPathComponent("skiff").path
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes. The timeout only ends a test that has
/// already failed, so it is generous: a loaded machine may take many seconds for what takes one here.
public func eventually(timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
