import Foundation
import SkiffAPI
import SkiffContainerd
import SkiffImage

/// An image ready to run: its containerd name, its run configuration, and the snapshot its root filesystem
/// is unpacked to.
struct ResolvedImage: Sendable, Equatable {
    var reference: String
    var digest: String
    var configuration: ImageConfiguration
    var chainID: String
}

/// Finds images in containerd, per namespace. Offline first: an image already in the namespace is used as it
/// is; one in another Skiff namespace is copied across (export, import); only then is a pull attempted.
actor ImageStore {
    private let ctr: Ctr
    private let scratchDirectory: String
    private var resolved: [String: ResolvedImage] = [:]

    init(ctr: Ctr, scratchDirectory: String) {
        self.ctr = ctr
        self.scratchDirectory = scratchDirectory
    }

    func resolve(_ image: String, namespace: String, otherNamespaces: [String]) async throws -> ResolvedImage {
        let reference: String
        do {
            reference = try ImageReference(parsing: image).description
        } catch {
            throw FunctionRuntimeError.invalid(error.description)
        }
        var target = try await ctr.image(namespace, reference)
        if target == nil {
            try await ContainerdImages(ctr: ctr).bring(
                reference, into: namespace, from: otherNamespaces, scratchDirectory: scratchDirectory)
            target = try await ctr.image(namespace, reference)
        }
        guard let target else {
            throw FunctionRuntimeError.image("image \(reference) is not in containerd namespace \(namespace)")
        }
        let key = "\(namespace)/\(reference)@\(target.digest)"
        if let cached = resolved[key] { return cached }
        let configuration = try await readConfiguration(namespace, target)
        guard let chainID = configuration.chainID else {
            throw FunctionRuntimeError.image("image \(reference) has no layers; it cannot be run")
        }
        let result = ResolvedImage(
            reference: reference, digest: target.digest, configuration: configuration, chainID: chainID)
        resolved[key] = result
        return result
    }

    /// Imports an OCI or Docker image archive; returns the names containerd registered.
    func importArchive(_ path: String, namespace: String) async throws -> [String] {
        try await ctr.importImage(namespace, archive: path)
    }

    private func readConfiguration(_ namespace: String, _ target: Ctr.ImageTarget) async throws -> ImageConfiguration {
        let decoder = JSONDecoder()
        var manifestDigest = target.digest
        if MediaType.isIndex(target.mediaType) {
            let index = try decode(ImageIndex.self, try await ctr.content(namespace, target.digest), decoder)
            guard let chosen = index.manifest(for: .host) else {
                throw FunctionRuntimeError.image(
                    "image has no manifest for linux/\(Platform.host.architecture); build or pull one for this machine")
            }
            manifestDigest = chosen.digest
        }
        let manifest = try decode(ImageManifest.self, try await ctr.content(namespace, manifestDigest), decoder)
        return try decode(ImageConfiguration.self, try await ctr.content(namespace, manifest.config.digest), decoder)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], _ decoder: JSONDecoder) throws -> T {
        do {
            return try decoder.decode(type, from: Data(bytes))
        } catch {
            throw FunctionRuntimeError.image("cannot read the image's \(type): \(error)")
        }
    }
}
