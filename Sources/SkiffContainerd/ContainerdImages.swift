import Foundation
import SkiffAPI
import SkiffPOSIX

/// The image side of containerd for `skiff build`: find, export, import and pull images, and run a throwaway
/// container from one (a build step such as `pip install`). Like the runtime, it speaks through ctr.
public struct ContainerdImages: Sendable {
    private let ctr: Ctr

    public init(address: String = "/run/containerd/containerd.sock", ctrPath: String = "/usr/bin/ctr") {
        ctr = Ctr(path: ctrPath, address: address)
    }

    public init(ctr: Ctr) { self.ctr = ctr }

    public func checkServer() async throws { try await ctr.checkServer() }

    /// The namespaces containerd has, to look for an image in.
    public func namespaces() async throws -> [String] { try await ctr.namespaces().keys.sorted() }

    public func contains(_ reference: String, namespace: String) async throws -> Bool {
        try await ctr.image(namespace, reference) != nil
    }

    public func digest(of reference: String, namespace: String) async throws -> String? {
        try await ctr.image(namespace, reference)?.digest
    }

    /// Writes the image as an archive; `progress` hears the archive's growth against the image's size, ten
    /// times a second (ctr itself says nothing until it is done).
    public func export(
        _ reference: String, namespace: String, to archive: String, progress: TransferObserver? = nil
    ) async throws {
        guard let progress else { return try await ctr.exportImage(namespace, reference, to: archive) }
        let total = await ImageInventory.size(of: reference, namespace: namespace, ctr: ctr)
        let activity = "reading \(reference) from containerd"
        let watcher = Task {
            while !Task.isCancelled {
                let written = (try? FileManager.default.attributesOfItem(atPath: archive)[.size] as? Int) ?? 0
                progress(TransferProgress(activity: activity, done: min(written, total), total: total))
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        do {
            try await ctr.exportImage(namespace, reference, to: archive)
        } catch {
            watcher.cancel()
            throw error
        }
        // The watcher is done before the last word, so no stale figure can follow it (or the build's next step).
        watcher.cancel()
        await watcher.value
        progress(TransferProgress(activity: activity, done: total, total: total))
    }

    /// Returns the names containerd registered.
    @discardableResult
    public func importArchive(_ archive: String, namespace: String) async throws -> [String] {
        try await ctr.importImage(namespace, archive: archive)
    }

    /// Imports an archive held in memory; `progress` hears the bytes containerd has taken.
    @discardableResult
    public func importArchive(bytes: [UInt8], namespace: String, progress: TransferObserver? = nil) async throws
        -> [String]
    {
        try await ctr.importImage(namespace, bytes: bytes, progress: progress)
    }

    /// Marks images `skiff build` imported with the time (``ImageSummary/builtAtLabel``), so that the daemon knows
    /// which images it may prune when the disk fills up, and which are oldest.
    public func markBuilt(_ references: [String], namespace: String, at date: Date = Date()) async throws {
        let seconds = String(Int(date.timeIntervalSince1970))
        for reference in references {
            try await ctr.labelImage(namespace, reference, [ImageSummary.builtAtLabel: seconds])
        }
    }

    /// Brings an image that `namespace` lacks, offline first: copied from the first of `others` that has it
    /// (export, then import, through a file in `scratchDirectory`), and only then pulled. A failed pull says how
    /// to get the image in without a registry.
    public func bring(
        _ reference: String, into namespace: String, from others: [String], scratchDirectory: String,
        progress: TransferObserver? = nil
    ) async throws {
        for other in others where other != namespace {
            guard try await ctr.image(other, reference) != nil else { continue }
            try FileManager.default.createDirectory(atPath: scratchDirectory, withIntermediateDirectories: true)
            let archive = "\(scratchDirectory)/export-\(UUID().uuidString).tar"
            defer { try? FileManager.default.removeItem(atPath: archive) }
            try await export(reference, namespace: other, to: archive, progress: progress)
            _ = try await ctr.importImage(namespace, archive: archive)
            return
        }
        do {
            try await ctr.pull(namespace, reference, progress: progress)
        } catch let error as FunctionRuntimeError {
            throw FunctionRuntimeError.image(Self.unavailable(reference, namespace: namespace, pullError: error))
        }
    }

    /// Why an image cannot be had, in one paragraph: the registry's last word (not ctr's whole output) and the
    /// three ways to get the image there without one.
    static func unavailable(_ reference: String, namespace: String, pullError: FunctionRuntimeError) -> String {
        let lines = pullError.description.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let reason = lines.last { !$0.isEmpty }.map { String($0.prefix(300)) } ?? "no answer"
        return "image \(reference) is neither in containerd (namespace \(namespace)) nor pullable (\(reason)). Get it "
            + "there in one of three ways: build it here (`skiff up` or `skiff build` from its handler folder); "
            + "import an archive (`ctr -n \(namespace) images import FILE`); or pull it where a registry is reachable, "
            + "`ctr images export FILE \(reference)` there, and import the file here"
    }

    public struct Mount: Sendable {
        public var source: String
        public var destination: String
        public var readOnly: Bool

        public init(source: String, destination: String, readOnly: Bool) {
            self.source = source
            self.destination = destination
            self.readOnly = readOnly
        }
    }

    /// Runs `/bin/sh -c command` in a new container of `image` on the host's network (so that package managers
    /// can reach their index), then removes the container. Returns the combined output; throws with it when the
    /// command fails.
    public func runThrowaway(
        image: String, namespace: String, command: String, workingDirectory: String, mounts: [Mount],
        environment: [String: String] = [:], timeout: Duration = .seconds(900)
    ) async throws -> String {
        let id = "skiff-build-\(UUID().uuidString.prefix(12).lowercased())"
        var arguments = ["run", "--rm", "--net-host", "--cwd", workingDirectory]
        // ctr splits --mount at ',' (fields) and ':' (options): a path holding either would add mount options of
        // its own choosing (`src=/,dst=/host` for a handler folder named so). Such paths are refused instead.
        for mount in mounts {
            for path in [mount.source, mount.destination] where path.contains(",") || path.contains(":") {
                throw FunctionRuntimeError.invalid(
                    "the path '\(path)' contains ',' or ':', which cannot be passed to ctr --mount safely; "
                        + "rename or move the folder")
            }
        }
        for mount in mounts {
            arguments += [
                "--mount",
                "type=bind,src=\(mount.source),dst=\(mount.destination),options=rbind:\(mount.readOnly ? "ro" : "rw")",
            ]
        }
        for (key, value) in environment.sorted(by: { $0.key < $1.key }) { arguments += ["--env", "\(key)=\(value)"] }
        arguments += [image, id, "/bin/sh", "-c", command]
        let outcome = try await ctr.outcome(namespace, arguments, timeout: timeout)
        let output = outcome.outputText + outcome.errorText
        guard outcome.succeeded else {
            // A task that timed out may leave its container behind.
            _ = try? await ctr.outcome(namespace, ["tasks", "kill", "-s", "SIGKILL", id], timeout: .seconds(10))
            _ = try? await ctr.outcome(namespace, ["tasks", "delete", "-f", id], timeout: .seconds(10))
            _ = try? await ctr.outcome(namespace, ["containers", "delete", id], timeout: .seconds(10))
            throw FunctionRuntimeError.system("`\(command)` in \(image) \(outcome.ending):\n\(output)")
        }
        return output
    }
}
