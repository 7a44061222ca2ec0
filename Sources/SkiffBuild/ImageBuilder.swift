import Foundation
import SkiffAPI
import SkiffContainerd
import SkiffImage

/// Builds a function's image with no Docker and no daemon of its own: the template's base layers, then one
/// layer each for the watchdog, the template's files, the handler's dependencies and the handler. Every new
/// layer, the config and the manifest are deterministic, so the same inputs give the same image digest.
public struct ImageBuilder: Sendable {
    public struct Request: Sendable {
        public var functionName: String
        public var handlerDirectory: String
        public var template: Template
        /// The name the image gets, e.g. `hello:latest` (normalised as Docker does).
        public var image: String
        /// Replaces the template's base: a reference or `oci-archive:PATH`.
        public var base: String?
        public var namespace = "openfaas-fn"
        public var importIntoContainerd = true
        public var outputArchive: String?
        /// Given to the dependency step's environment, as build args are to a Dockerfile.
        public var buildArgs: [String: String] = [:]
        public var watchdogBinary: String
        public var busyboxBinary = BusyboxLayer.defaultBinary

        public init(
            functionName: String, handlerDirectory: String, template: Template, image: String, watchdogBinary: String
        ) {
            self.functionName = functionName
            self.handlerDirectory = handlerDirectory
            self.template = template
            self.image = image
            self.watchdogBinary = watchdogBinary
        }
    }

    public struct Result: Sendable {
        public var reference: String
        /// The manifest digest: what containerd lists as the image's digest.
        public var digest: String
        public var layers: Int
        public var bytes: Int
    }

    /// What a build reports as it goes: a step begun, or how far a long transfer (a pull, an export, an import)
    /// has come.
    public enum Progress: Sendable, Equatable {
        case step(String)
        case transfer(TransferProgress)
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private let containerd: ContainerdImages
    private let scratchDirectory: String

    public init(containerd: ContainerdImages, scratchDirectory: String = "/var/tmp") {
        self.containerd = containerd
        self.scratchDirectory = scratchDirectory
    }

    public func build(_ request: Request, progress report: @escaping @Sendable (Progress) -> Void) async throws
        -> Result
    {
        let progress: (String) -> Void = { report(.step($0)) }
        let transfer: TransferObserver = { report(.transfer($0)) }
        let reference: ImageReference
        do {
            reference = try ImageReference(parsing: request.image)
        } catch {
            throw Failure(description: "image \"\(request.image)\" is not a valid image name: \(error)")
        }
        try checkHandler(request)
        let template = request.template
        let work = try makeWorkDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }

        progress("base: \(request.base ?? describe(template.base))")
        let (baseImage, runnableBase) = try await base(request, work: work, transfer: transfer)
        var image = baseImage

        progress("layer: skiff-watchdog")
        image.append(layer: try watchdogLayer(request.watchdogBinary))

        let templateFiles = template.directory + "/image"
        if FileManager.default.fileExists(atPath: templateFiles) {
            progress("layer: template \(template.name) → \(template.workdir)")
            var layer = DirectoryLayer()
            try layer.addTree(from: templateFiles, to: template.workdir)
            image.append(layer: layer.tar())
        }

        if let dependencies = template.dependencies,
            Self.listsSomething(request.handlerDirectory + "/" + dependencies.file)
        {
            guard let runnableBase else {
                throw Failure(
                    description: "template \(template.name) installs dependencies but its base cannot run them")
            }
            progress("layer: dependencies from \(dependencies.file) (\(dependencies.command))")
            image.append(
                layer: try await dependencyLayer(dependencies, request: request, base: runnableBase, work: work))
        }

        progress("layer: handler \(request.handlerDirectory) → \(template.handlerPath)")
        var handler = DirectoryLayer()
        try handler.addTree(
            from: request.handlerDirectory, to: template.handlerPath, skipping: ["__pycache__", ".git", "build"])
        image.append(layer: handler.tar())

        image.configuration = configuration(base: baseImage.configuration, request: request, layers: image.layers)
        let archive = try OCIArchive(reference: reference, image: image)
        progress(
            "image: \(reference) \(archive.manifestDigest) (\(image.layers.count) layers, \(archive.bytes.count) bytes)"
        )

        if let output = request.outputArchive {
            try write(archive.bytes, to: output)
            progress("wrote: \(output)")
        }
        if request.importIntoContainerd {
            try await containerd.importArchive(bytes: archive.bytes, namespace: request.namespace, progress: transfer)
            try await containerd.markBuilt([reference.description], namespace: request.namespace)
            progress("imported: containerd namespace \(request.namespace)")
        }
        return Result(
            reference: reference.description, digest: archive.manifestDigest, layers: image.layers.count,
            bytes: archive.bytes.count)
    }

    /// Whether a dependency file names anything: a missing, empty or comments-only file skips the step (pip,
    /// for one, fails on an empty requirements file).
    static func listsSomething(_ path: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: path) else { return false }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").contains { line in
            let text = line.trimmingCharacters(in: .whitespaces)
            return !text.isEmpty && !text.hasPrefix("#")
        }
    }

    private func describe(_ base: Template.Base) -> String {
        switch base {
        case .busybox: return "busybox (made from the host's busybox-static)"
        case .scratch: return "scratch (nothing but the watchdog and the handler)"
        case .image(let reference): return reference
        }
    }

    private func checkHandler(_ request: Request) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: request.handlerDirectory, isDirectory: &isDirectory),
            isDirectory.boolValue
        else {
            throw Failure(
                description: "the handler folder \(request.handlerDirectory) does not exist; "
                    + "create it with `skiff new --lang \(request.template.name) \(request.functionName)`")
        }
        for file in request.template.requiredFiles
        where !FileManager.default.fileExists(atPath: request.handlerDirectory + "/" + file) {
            throw Failure(
                description: "\(request.handlerDirectory)/\(file) is missing; the \(request.template.name) "
                    + "template needs it (\(request.template.description))")
        }
    }

    private func makeWorkDirectory() throws -> String {
        let path = "\(scratchDirectory)/skiff-build-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The base image's parts, and the name it can be run under in `request.namespace` (nil for bases that
    /// exist only in this build).
    private func base(_ request: Request, work: String, transfer: @escaping TransferObserver) async throws
        -> (OCIImage, String?)
    {
        let text: String
        switch request.base.map(Template.Base.init) ?? request.template.base {
        case .scratch:
            return (OCIImage(configuration: ImageConfiguration(config: .init(), diffIDs: []), layers: []), nil)
        case .busybox:
            let layer = try BusyboxLayer.make(busybox: request.busyboxBinary)
            var image = OCIImage(
                configuration: ImageConfiguration(
                    config: .init(env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]),
                    diffIDs: []),
                layers: [])
            image.append(layer: layer)
            return (image, nil)
        case .image(let reference):
            text = reference
        }
        if text.hasPrefix("oci-archive:") {
            let path = String(text.dropFirst("oci-archive:".count))
            guard let data = FileManager.default.contents(atPath: path) else {
                throw Failure(description: "cannot read the base image archive \(path)")
            }
            let bytes = Array(data)
            let image = try OCIImage(archive: bytes)
            // The dependency step runs the base in containerd, so it must be there under its own name.
            let names = try await containerd.importArchive(
                bytes: bytes, namespace: request.namespace, progress: transfer)
            try await containerd.markBuilt(names, namespace: request.namespace)
            return (image, names.first)
        }
        let reference: String
        do {
            reference = try ImageReference(parsing: text).description
        } catch {
            throw Failure(description: "base image \"\(text)\" is not a valid image name: \(error)")
        }
        if !(try await containerd.contains(reference, namespace: request.namespace)) {
            do {
                try await containerd.bring(
                    reference, into: request.namespace, from: try await containerd.namespaces(),
                    scratchDirectory: scratchDirectory, progress: transfer)
            } catch FunctionRuntimeError.image(let message) {
                // Only a build has a base image to swap for a local archive.
                throw Failure(
                    description: "base image: \(message); or give the base as --base oci-archive:FILE "
                        + "(scripts/python-base makes the Python one offline)")
            }
        }
        let archive = work + "/base.tar"
        try await containerd.export(reference, namespace: request.namespace, to: archive, progress: transfer)
        guard let data = FileManager.default.contents(atPath: archive) else {
            throw Failure(description: "ctr exported no archive for \(reference)")
        }
        try? FileManager.default.removeItem(atPath: archive)
        return (try OCIImage(archive: Array(data), reference: reference), reference)
    }

    private func watchdogLayer(_ binary: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: binary) else {
            throw Failure(
                description: "skiff-watchdog not found at \(binary); build it (swift build) or set SKIFF_WATCHDOG")
        }
        var layer = DirectoryLayer()
        layer.addDirectory("tmp", mode: 0o1777)
        layer.addFile("usr/bin/skiff-watchdog", contents: Array(data), mode: 0o755)
        return layer.tar()
    }

    private func dependencyLayer(
        _ dependencies: Template.Dependencies, request: Request, base: String, work: String
    ) async throws -> [UInt8] {
        let output = work + "/dependencies"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let handler = URL(fileURLWithPath: request.handlerDirectory).standardized.path
        _ = try await containerd.runThrowaway(
            image: base, namespace: request.namespace, command: dependencies.command,
            workingDirectory: "/skiff/handler",
            mounts: [
                .init(source: handler, destination: "/skiff/handler", readOnly: true),
                .init(source: output, destination: "/skiff/out", readOnly: false),
            ],
            environment: request.buildArgs)
        var layer = DirectoryLayer()
        try layer.addTree(from: output, to: dependencies.into)
        return layer.tar()
    }

    private func configuration(
        base: ImageConfiguration, request: Request, layers: [OCIImage.Layer]
    ) -> ImageConfiguration {
        let template = request.template
        var environment: [(String, String)] = []
        var seen = Set<String>()
        let added = template.environment.merging(template.watchdog) { _, watchdog in watchdog }
        for entry in base.config?.env ?? [] {
            let key = String(entry.prefix { $0 != "=" })
            guard added[key] == nil, seen.insert(key).inserted else { continue }
            environment.append((key, String(entry.dropFirst(key.count + 1))))
        }
        environment += added.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        var labels = base.config?.labels ?? [:]
        labels["com.openfaas.skiff.template"] = template.name
        let run = ImageConfiguration.RunConfig(
            user: template.user, env: environment.map { "\($0)=\($1)" }, entrypoint: ["/usr/bin/skiff-watchdog"],
            workingDir: template.workdir, labels: labels, exposedPorts: ["8080/tcp": EmptyObject()])
        return ImageConfiguration(config: run, diffIDs: layers.map(\.diffID))
    }

    private func write(_ bytes: [UInt8], to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw Failure(description: "cannot write \(path)")
        }
    }
}
