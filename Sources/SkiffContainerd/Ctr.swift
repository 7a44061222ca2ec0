import Foundation
import SkiffAPI
import SkiffPOSIX

/// containerd through its command-line client. The only file that knows `ctr`'s argument strings and output
/// formats; everything above it speaks in containers, tasks, images and snapshots. Each call is one process
/// with a timeout; a failure becomes ``FunctionRuntimeError/system(_:)`` carrying ctr's stderr.
public struct Ctr: Sendable {
    public let path: String
    public let address: String
    public var timeout: Duration = .seconds(60)

    public init(path: String, address: String, timeout: Duration = .seconds(60)) {
        self.path = path
        self.address = address
        self.timeout = timeout
    }

    // MARK: Running ctr

    /// Runs ctr and returns its output. A failure whose stderr `tolerated` accepts (the thing is already gone,
    /// or already exists) returns nil instead of throwing; any other failure throws with ctr's own words.
    @discardableResult
    public func run(
        _ namespace: String?, _ arguments: [String], timeout: Duration? = nil,
        tolerating tolerated: (String) -> Bool = { _ in false }, adjust: (inout ChildProcess) -> Void = { _ in }
    ) async throws -> String? {
        let outcome = try await outcome(namespace, arguments, timeout: timeout, adjust: adjust)
        if outcome.succeeded { return outcome.outputText }
        if !outcome.timedOut && tolerated(outcome.errorText) { return nil }
        throw FunctionRuntimeError.system(
            ChildProcessError(command: commandLine(namespace, arguments), outcome: outcome).description)
    }

    /// Like ``run(_:_:timeout:tolerating:)`` for commands whose output is needed.
    public func output(
        _ namespace: String?, _ arguments: [String], timeout: Duration? = nil,
        adjust: (inout ChildProcess) -> Void = { _ in }
    ) async throws -> String {
        try await run(namespace, arguments, timeout: timeout, adjust: adjust) ?? ""
    }

    public func outcome(
        _ namespace: String?, _ arguments: [String], timeout: Duration? = nil,
        adjust: (inout ChildProcess) -> Void = { _ in }
    ) async throws -> ChildProcess.Outcome {
        var process = ChildProcess(path, globalArguments(namespace) + arguments, timeout: timeout ?? self.timeout)
        process.outputLimit = 64 * 1024 * 1024
        adjust(&process)
        do {
            return try await process.run()
        } catch {
            throw FunctionRuntimeError.system(
                "cannot run \(path): \(error); install containerd (apt install containerd)")
        }
    }

    private func globalArguments(_ namespace: String?) -> [String] {
        ["--address", address] + (namespace.map { ["--namespace", $0] } ?? [])
    }

    private func commandLine(_ namespace: String?, _ arguments: [String]) -> String {
        ([path] + globalArguments(namespace) + arguments).joined(separator: " ")
    }

    /// Whether containerd answers at all; the message says how to start it when it does not.
    public func checkServer() async throws {
        let outcome = try await outcome(nil, ["version"], timeout: .seconds(10))
        guard outcome.succeeded else {
            throw FunctionRuntimeError.system(
                "containerd does not answer at \(address): \(outcome.errorText.trimmingSpaces()); "
                    + "start it with `systemctl start containerd` (or scripts/run)")
        }
    }

    /// The long-running `ctr events` stream, one line per event.
    public func events() throws -> AsyncThrowingStream<String, any Error> {
        try ChildProcess(path, globalArguments(nil) + ["events"]).lines()
    }

    // MARK: Namespaces

    /// Every containerd namespace with its labels.
    public func namespaces() async throws -> [String: [String: String]] {
        var result: [String: [String: String]] = [:]
        for line in try await output(nil, ["namespaces", "ls"]).split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let name = fields.first else { continue }
            result[String(name)] = fields.count > 1 ? Self.labels(fields[1]) : [:]
        }
        return result
    }

    public func createNamespace(_ name: String, labels: [String: String]) async throws {
        let created = try await run(nil, ["namespaces", "create", name] + Self.pairs(labels)) {
            $0.contains("already exists")
        }
        if created == nil { try await labelNamespace(name, labels: labels) }
    }

    public func labelNamespace(_ name: String, labels: [String: String]) async throws {
        try await run(nil, ["namespaces", "label", name] + Self.pairs(labels))
    }

    /// ctr's label column: `k=v,k=v` (a key without `=` has an empty value).
    private static func labels(_ column: Substring) -> [String: String] {
        var labels: [String: String] = [:]
        for pair in column.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            labels[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        return labels
    }

    /// `key=value` arguments in a stable order.
    private static func pairs(_ labels: [String: String]) -> [String] {
        labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    }

    /// Deletes the namespace's images first: containerd refuses to delete a namespace that holds any.
    public func deleteNamespace(_ name: String) async throws {
        let images = try await output(name, ["images", "ls", "-q"]).split(separator: "\n").map(String.init)
        if !images.isEmpty { try await run(name, ["images", "rm", "--sync"] + images) }
        var lastError: (any Error)?
        for _ in 0..<20 {
            do {
                try await run(nil, ["namespaces", "rm", name])
                return
            } catch {
                // Content is garbage-collected in the background; try again shortly.
                lastError = error
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        if let lastError { throw lastError }
    }

    // MARK: Images and content

    public struct ImageTarget: Sendable {
        public var mediaType: String
        public var digest: String
    }

    /// The image's top descriptor, or nil when the namespace has no image by that name.
    public func image(_ namespace: String, _ reference: String) async throws -> ImageTarget? {
        let output = try await output(namespace, ["images", "ls", "name==\(reference)"])
        for line in output.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 3, fields[0] == reference else { continue }
            return ImageTarget(mediaType: String(fields[1]), digest: String(fields[2]))
        }
        return nil
    }

    public struct ImageEntry: Sendable {
        public var name: String
        public var target: ImageTarget
        public var labels: [String: String]
    }

    /// Every image in the namespace with its labels (`ctr images ls`: REF TYPE DIGEST SIZE PLATFORMS LABELS,
    /// where SIZE is two words and LABELS, the last column, is `-` or `k=v,k=v`).
    public func images(_ namespace: String) async throws -> [ImageEntry] {
        try await output(namespace, ["images", "ls"]).split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 4, let last = fields.last else { return nil }
            return ImageEntry(
                name: String(fields[0]), target: ImageTarget(mediaType: String(fields[1]), digest: String(fields[2])),
                labels: last != "-" && fields.count >= 7 ? Self.labels(last) : [:])
        }
    }

    public func labelImage(_ namespace: String, _ reference: String, _ labels: [String: String]) async throws {
        try await run(namespace, ["images", "label", reference] + Self.pairs(labels))
    }

    /// Removes an image name and waits for containerd to collect the content and snapshots only it held. A name
    /// already gone is not an error.
    public func removeImage(_ namespace: String, _ reference: String) async throws {
        try await run(namespace, ["images", "rm", "--sync", reference]) { $0.contains("not found") }
    }

    public func content(_ namespace: String, _ digest: String) async throws -> [UInt8] {
        let outcome = try await outcome(namespace, ["content", "get", digest])
        guard outcome.succeeded else {
            throw FunctionRuntimeError.image(
                "containerd has no content \(digest): \(outcome.errorText.trimmingSpaces())")
        }
        return outcome.standardOutput
    }

    public func importImage(_ namespace: String, archive: String) async throws -> [String] {
        Self.importedNames(try await output(namespace, ["images", "import", archive], timeout: .seconds(600)))
    }

    /// Imports an archive held in memory through ctr's standard input, telling `progress` the bytes taken.
    public func importImage(_ namespace: String, bytes: [UInt8], progress: TransferObserver?) async throws -> [String] {
        let total = bytes.count
        let output = try await output(
            namespace, ["images", "import", "-"], timeout: .seconds(600),
            adjust: { process in
                process.standardInput = bytes
                if let progress {
                    process.inputProgress = {
                        progress(TransferProgress(activity: "importing", done: $0, total: total))
                    }
                }
            })
        return Self.importedNames(output)
    }

    /// "unpacking docker.io/local/echo:latest (sha256:…)...done" → the names.
    private static func importedNames(_ output: String) -> [String] {
        output.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("unpacking ") else { return nil }
            return line.dropFirst("unpacking ".count).split(separator: " ").first.map(String.init)
        }
    }

    public func pull(_ namespace: String, _ reference: String, progress: TransferObserver? = nil) async throws {
        let meter = PullMeter(activity: "pulling \(reference)")
        try await run(
            namespace, ["images", "pull", reference], timeout: .seconds(600),
            adjust: { process in
                if let progress { process.outputLine = { line in if let seen = meter.read(line) { progress(seen) } } }
            })
        // ctr's last frame is drawn before the download ends; the pull is whole now.
        progress?(meter.finished())
    }

    public func exportImage(_ namespace: String, _ reference: String, to archive: String) async throws {
        try await run(namespace, ["images", "export", archive, reference], timeout: .seconds(600))
    }

    // MARK: Snapshots

    public struct Mount: Codable, Sendable, Equatable {
        public var type: String
        public var source: String
        public var options: [String]

        enum CodingKeys: String, CodingKey {
            case type = "Type"
            case source = "Source"
            case options = "Options"
        }
    }

    /// A writable snapshot on top of `parent` (an image's chain id), and how to mount it.
    public func prepareSnapshot(_ namespace: String, key: String, parent: String) async throws -> [Mount] {
        let output = try await output(namespace, ["snapshots", "prepare", "--mounts", key, parent])
        do {
            return try JSONDecoder().decode([Mount].self, from: Data(output.utf8))
        } catch {
            throw FunctionRuntimeError.system("unexpected output from ctr snapshots prepare: \(output)")
        }
    }

    /// How to mount an existing snapshot (after a reboot unmounted it): ctr prints a `mount` command line.
    public func snapshotMounts(_ namespace: String, key: String) async throws -> [Mount] {
        let output = try await output(namespace, ["snapshots", "mounts", "/", key])
        return output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ").map(String.init)
            guard fields.first == "mount", let type = fields.firstIndex(of: "-t"), type + 2 < fields.count else {
                return nil
            }
            let options = fields.firstIndex(of: "-o").flatMap { $0 + 1 < fields.count ? fields[$0 + 1] : nil }
            return Mount(
                type: fields[type + 1], source: fields[type + 2],
                options: options.map { $0.split(separator: ",").map(String.init) } ?? [])
        }
    }

    public func removeSnapshot(_ namespace: String, key: String) async throws {
        try await run(namespace, ["snapshots", "rm", key]) { $0.contains("not found") }
    }

    // MARK: Containers

    public func createContainer(_ namespace: String, id: String, specFile: String, labels: [String: String])
        async throws
    {
        let labelArguments = labels.sorted { $0.key < $1.key }.flatMap { ["--label", "\($0.key)=\($0.value)"] }
        try await run(namespace, ["containers", "create", "--config", specFile] + labelArguments + [id])
    }

    /// Ids of the containers whose label `key` equals `value`.
    public func containers(_ namespace: String, label key: String, equals value: String) async throws -> [String] {
        let output = try await output(namespace, ["containers", "ls", "-q", "labels.\"\(key)\"==\(value)"])
        return output.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    /// The image each container in the namespace was made from (`ctr run` sets it; replicas, made from a full
    /// spec, have none).
    public func containerImages(_ namespace: String) async throws -> Set<String> {
        var result = Set<String>()
        for line in try await output(namespace, ["containers", "ls"]).split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2 && fields[1] != "-" { result.insert(String(fields[1])) }
        }
        return result
    }

    public struct ContainerInfo: Decodable, Sendable {
        public var id: String
        public var labels: [String: String]?
        public var createdAt: String

        enum CodingKeys: String, CodingKey {
            case id = "ID"
            case labels = "Labels"
            case createdAt = "CreatedAt"
        }
    }

    public func containerInfo(_ namespace: String, _ id: String) async throws -> ContainerInfo {
        let output = try await output(namespace, ["containers", "info", id])
        do {
            return try JSONDecoder().decode(ContainerInfo.self, from: Data(output.utf8))
        } catch {
            throw FunctionRuntimeError.system("unexpected output from ctr containers info \(id): \(error)")
        }
    }

    public func setLabels(_ namespace: String, _ id: String, _ labels: [String: String]) async throws {
        try await run(namespace, ["containers", "label", id] + Self.pairs(labels))
    }

    public func deleteContainer(_ namespace: String, _ id: String) async throws {
        try await run(namespace, ["containers", "delete", id]) { $0.contains("not found") }
    }

    // MARK: Tasks

    public struct TaskInfo: Sendable, Equatable {
        public var id: String
        public var pid: Int32
        /// RUNNING, STOPPED, CREATED, PAUSED, UNKNOWN
        public var status: String
    }

    /// Starts the container's task detached; its stdout and stderr go to `logURI`. Returns its PID.
    public func startTask(_ namespace: String, _ id: String, logURI: String, pidFile: String) async throws -> Int32 {
        try await run(namespace, ["tasks", "start", "--detach", "--log-uri", logURI, "--pid-file", pidFile, id])
        let text = (try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? ""
        guard let pid = Int32(text.trimmingSpaces()) else {
            throw FunctionRuntimeError.system("ctr tasks start \(id) wrote no PID to \(pidFile)")
        }
        return pid
    }

    public func tasks(_ namespace: String) async throws -> [String: TaskInfo] {
        var result: [String: TaskInfo] = [:]
        for line in try await output(namespace, ["tasks", "ls"]).split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 3, let pid = Int32(fields[1]) else { continue }
            result[String(fields[0])] = TaskInfo(id: String(fields[0]), pid: pid, status: String(fields[2]))
        }
        return result
    }

    /// Signals every process of the task. A task that is already gone is not an error.
    public func kill(_ namespace: String, _ id: String, signal: String) async throws {
        try await run(namespace, ["tasks", "kill", "--all", "--signal", signal, id], tolerating: Self.isGone)
    }

    /// Deletes a stopped task (with `force`, a running one too). A missing task is not an error.
    public func deleteTask(_ namespace: String, _ id: String, force: Bool = false) async throws {
        try await run(namespace, ["tasks", "delete"] + (force ? ["--force"] : []) + [id], tolerating: Self.isGone)
    }

    private static func isGone(_ errorText: String) -> Bool {
        errorText.contains("not found") || errorText.contains("process already finished")
    }
}
