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
        let image = OCIImage(
            configuration: ImageConfiguration(config: run, diffIDs: []), layers: layers.map(OCIImage.Layer.init(tar:)))
        try self.init(reference: reference, image: image)
    }

    /// An image whose layers may come from another image (kept byte for byte, compressed or not); the config's
    /// diff ids are taken from the layers.
    public init(reference: ImageReference, image: OCIImage) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var blobs: [(digest: String, bytes: [UInt8])] = image.layers.map { ($0.descriptor.digest, $0.bytes) }
        var configuration = image.configuration
        configuration.rootfs.diffIDs = image.layers.map(\.diffID)
        let config = Array(try encoder.encode(configuration))
        let configDescriptor = Descriptor(
            mediaType: MediaType.ociConfig, digest: "sha256:" + SHA256.hex(config), size: config.count)
        blobs.append((configDescriptor.digest, config))
        let manifest = Array(
            try encoder.encode(ImageManifest(config: configDescriptor, layers: image.layers.map(\.descriptor))))
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
