/// The OCI image-spec documents Skiff reads (from containerd's content store) and writes (image archives).
/// Docker's v2 media types are read too, because images pulled from Docker Hub use them.
public enum MediaType {
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    public static let ociLayer = "application/vnd.oci.image.layer.v1.tar"
    public static let ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"

    public static func isIndex(_ type: String?) -> Bool { type == ociIndex || type == dockerManifestList }
}

public struct Platform: Codable, Sendable, Equatable {
    public var architecture: String
    public var os: String
    public var variant: String?

    public init(architecture: String, os: String = "linux", variant: String? = nil) {
        self.architecture = architecture
        self.os = os
        self.variant = variant
    }

    /// The machine this process runs on, named the way image configs name it.
    public static var host: Platform {
        #if arch(arm64)
            return Platform(architecture: "arm64", variant: "v8")
        #else
            return Platform(architecture: "amd64")
        #endif
    }
}

public struct Descriptor: Codable, Sendable, Equatable {
    public var mediaType: String
    public var digest: String
    public var size: Int
    public var annotations: [String: String]?
    public var platform: Platform?

    public init(mediaType: String, digest: String, size: Int, annotations: [String: String]? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
    }
}

public struct ImageManifest: Codable, Sendable, Equatable {
    public var schemaVersion = 2
    public var mediaType: String?
    public var config: Descriptor
    public var layers: [Descriptor]

    public init(config: Descriptor, layers: [Descriptor]) {
        self.mediaType = MediaType.ociManifest
        self.config = config
        self.layers = layers
    }
}

public struct ImageIndex: Codable, Sendable, Equatable {
    public var schemaVersion = 2
    public var mediaType: String?
    public var manifests: [Descriptor]

    public init(manifests: [Descriptor]) {
        self.mediaType = MediaType.ociIndex
        self.manifests = manifests
    }

    /// The manifest for `platform`, preferring an exact variant match, as containerd's default matcher does.
    public func manifest(for platform: Platform) -> Descriptor? {
        let candidates = manifests.filter {
            $0.platform?.os == platform.os && $0.platform?.architecture == platform.architecture
        }
        return candidates.first { $0.platform?.variant == platform.variant } ?? candidates.first
    }
}

/// The image configuration: how to run the image (`config`) and which layers make its root filesystem.
public struct ImageConfiguration: Codable, Sendable, Equatable {
    public struct RunConfig: Codable, Sendable, Equatable {
        public var user: String?
        public var env: [String]?
        public var entrypoint: [String]?
        public var cmd: [String]?
        public var workingDir: String?
        public var labels: [String: String]?
        public var exposedPorts: [String: EmptyObject]?

        public init(
            user: String? = nil, env: [String]? = nil, entrypoint: [String]? = nil, cmd: [String]? = nil,
            workingDir: String? = nil, labels: [String: String]? = nil, exposedPorts: [String: EmptyObject]? = nil
        ) {
            self.user = user
            self.env = env
            self.entrypoint = entrypoint
            self.cmd = cmd
            self.workingDir = workingDir
            self.labels = labels
            self.exposedPorts = exposedPorts
        }

        enum CodingKeys: String, CodingKey {
            case user = "User"
            case env = "Env"
            case entrypoint = "Entrypoint"
            case cmd = "Cmd"
            case workingDir = "WorkingDir"
            case labels = "Labels"
            case exposedPorts = "ExposedPorts"
        }
    }

    public struct RootFS: Codable, Sendable, Equatable {
        public var type = "layers"
        public var diffIDs: [String]

        public init(diffIDs: [String]) { self.diffIDs = diffIDs }

        enum CodingKeys: String, CodingKey {
            case type
            case diffIDs = "diff_ids"
        }
    }

    public var created: String?
    public var architecture: String
    public var os: String
    public var variant: String?
    public var config: RunConfig?
    public var rootfs: RootFS

    public init(
        platform: Platform = .host, config: RunConfig, diffIDs: [String], created: String? = "1970-01-01T00:00:00Z"
    ) {
        self.created = created
        self.architecture = platform.architecture
        self.os = platform.os
        self.variant = platform.variant
        self.config = config
        self.rootfs = RootFS(diffIDs: diffIDs)
    }

    /// containerd's key for the unpacked root filesystem: the identity chain of the layer diff ids
    /// (chain₀ = diff₀, chainₙ = sha256(chainₙ₋₁ + " " + diffₙ)), which names the committed snapshot.
    public var chainID: String? {
        guard var chain = rootfs.diffIDs.first else { return nil }
        for diff in rootfs.diffIDs.dropFirst() {
            chain = "sha256:" + SHA256.hex(Array("\(chain) \(diff)".utf8))
        }
        return chain
    }
}

/// Encodes as `{}`: the value type of `ExposedPorts` entries.
public struct EmptyObject: Codable, Sendable, Equatable {
    public init() {}
}
