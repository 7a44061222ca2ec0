import Foundation

/// One image's parts, read from an OCI image layout archive: the run configuration and its layers as they are
/// stored (compressed or not), ready to be extended with new layers and written out again.
public struct OCIImage: Sendable {
    public struct Layer: Sendable {
        public var descriptor: Descriptor
        public var bytes: [UInt8]
        /// The digest of the uncompressed tar, as the config's `rootfs.diff_ids` lists it.
        public var diffID: String

        /// An uncompressed layer made here.
        public init(tar: [UInt8]) {
            let digest = "sha256:" + SHA256.hex(tar)
            descriptor = Descriptor(mediaType: MediaType.ociLayer, digest: digest, size: tar.count)
            bytes = tar
            diffID = digest
        }

        public init(descriptor: Descriptor, bytes: [UInt8], diffID: String) {
            self.descriptor = descriptor
            self.bytes = bytes
            self.diffID = diffID
        }
    }

    public var configuration: ImageConfiguration
    public var layers: [Layer]

    public init(configuration: ImageConfiguration, layers: [Layer]) {
        self.configuration = configuration
        self.layers = layers
    }

    public struct Unreadable: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads the image for `platform` from an archive written by `ctr images export` or ``OCIArchive``. With
    /// several images in the archive, `reference` picks one by its `io.containerd.image.name` annotation.
    public init(archive bytes: [UInt8], reference: String? = nil, platform: Platform = .host) throws {
        let files = try TarReader.files(bytes)
        let decoder = JSONDecoder()
        func blob(_ digest: String) throws -> [UInt8] {
            guard digest.hasPrefix("sha256:"), let content = files["blobs/sha256/" + digest.dropFirst(7)] else {
                throw Unreadable(description: "the archive lacks blob \(digest)")
            }
            return Array(content)
        }
        func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], _ what: String) throws -> T {
            do {
                return try decoder.decode(type, from: Data(bytes))
            } catch {
                throw Unreadable(description: "the archive's \(what) is not valid: \(error)")
            }
        }
        guard let indexBytes = files["index.json"] else {
            throw Unreadable(description: "not an OCI image archive (no index.json); export one with ctr images export")
        }
        let index = try decode(ImageIndex.self, Array(indexBytes), "index.json")
        var candidates = index.manifests
        if let reference, candidates.count > 1 {
            let named = candidates.filter { $0.annotations?["io.containerd.image.name"] == reference }
            if !named.isEmpty { candidates = named }
        }
        guard var descriptor = candidates.first else { throw Unreadable(description: "the archive holds no image") }
        // Follow nested indexes (multi-platform images) down to this platform's manifest.
        while MediaType.isIndex(descriptor.mediaType) {
            let nested = try decode(ImageIndex.self, try blob(descriptor.digest), "image index")
            guard let chosen = nested.manifest(for: platform) else {
                throw Unreadable(description: "the image has no manifest for linux/\(platform.architecture)")
            }
            descriptor = chosen
        }
        let manifest = try decode(ImageManifest.self, try blob(descriptor.digest), "manifest")
        configuration = try decode(ImageConfiguration.self, try blob(manifest.config.digest), "image config")
        guard manifest.layers.count == configuration.rootfs.diffIDs.count else {
            throw Unreadable(description: "the image's manifest and config disagree on the number of layers")
        }
        layers = try zip(manifest.layers, configuration.rootfs.diffIDs).map { layer, diffID in
            var descriptor = layer
            // Docker's layer types are the OCI ones under other names; containerd reads both.
            if descriptor.mediaType.hasPrefix("application/vnd.docker.image.rootfs.diff.tar") {
                descriptor.mediaType =
                    descriptor.mediaType.hasSuffix("gzip") ? MediaType.ociLayerGzip : MediaType.ociLayer
            }
            return Layer(descriptor: descriptor, bytes: try blob(layer.digest), diffID: diffID)
        }
    }

    public mutating func append(layer tar: [UInt8]) {
        let layer = Layer(tar: tar)
        layers.append(layer)
        configuration.rootfs.diffIDs.append(layer.diffID)
    }
}
