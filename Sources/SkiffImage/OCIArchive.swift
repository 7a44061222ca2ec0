import Foundation

/// Builds an OCI image layout as a single tar, the form `ctr images import` reads offline. Everything in it is
/// deterministic: sorted JSON keys, blobs named by digest, fixed tar headers; the same layers and config give
/// the same archive and the same image digest.
public struct OCIArchive: Sendable {
    /// The manifest's digest, which containerd shows as the image's digest after import.
    public let manifestDigest: String
    public let bytes: [UInt8]

    /// - Parameters:
    ///   - reference: the name containerd registers (`io.containerd.image.name`).
    ///   - layers: uncompressed layer tars, lowest first.
    public init(reference: ImageReference, config run: ImageConfiguration.RunConfig, layers: [[UInt8]]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var blobs: [(digest: String, bytes: [UInt8])] = []
        var layerDescriptors: [Descriptor] = []
        var diffIDs: [String] = []
        for layer in layers {
            let digest = "sha256:" + SHA256.hex(layer)
            blobs.append((digest, layer))
            diffIDs.append(digest)
            layerDescriptors.append(Descriptor(mediaType: MediaType.ociLayer, digest: digest, size: layer.count))
        }
        let config = Array(try encoder.encode(ImageConfiguration(config: run, diffIDs: diffIDs)))
        let configDescriptor = Descriptor(
            mediaType: MediaType.ociConfig, digest: "sha256:" + SHA256.hex(config), size: config.count)
        blobs.append((configDescriptor.digest, config))
        let manifest = Array(try encoder.encode(ImageManifest(config: configDescriptor, layers: layerDescriptors)))
        let manifestDigest = "sha256:" + SHA256.hex(manifest)
        blobs.append((manifestDigest, manifest))
        var manifestDescriptor = Descriptor(
            mediaType: MediaType.ociManifest, digest: manifestDigest, size: manifest.count,
            annotations: [
                "io.containerd.image.name": reference.description,
                "org.opencontainers.image.ref.name": reference.tag ?? "latest",
            ])
        manifestDescriptor.platform = nil
        let index = Array(try encoder.encode(ImageIndex(manifests: [manifestDescriptor])))

        var tar = TarWriter()
        tar.append(.init(path: "blobs", kind: .directory))
        tar.append(.init(path: "blobs/sha256", kind: .directory))
        var seen = Set<String>()
        for blob in blobs.sorted(by: { $0.digest < $1.digest }) where seen.insert(blob.digest).inserted {
            tar.append(.init(path: "blobs/sha256/" + blob.digest.dropFirst(7), kind: .file(blob.bytes)))
        }
        tar.append(.init(path: "index.json", kind: .file(index)))
        tar.append(.init(path: "oci-layout", kind: .file(Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))))
        self.manifestDigest = manifestDigest
        self.bytes = tar.finish()
    }
}
