import Foundation

/// An image in a function namespace: what the runtime reports, GET /system/images answers (Skiff's own route;
/// OpenFaaS has no image API) and `skiff images` reads.
public struct ImageSummary: Codable, Sendable, Equatable {
    public var name: String
    public var namespace: String
    /// The digest containerd lists: the manifest's, or the index's for a multi-platform image.
    public var digest: String
    /// Bytes of this image's content in containerd (index, manifest, config, layers), shared layers included.
    public var size: Int
    /// Bytes no other image in the namespace shares: what removing this image alone gives back.
    public var uniqueSize: Int
    /// The functions deployed from this image.
    public var functions: [String]
    /// When `skiff build` made or imported it (label ``ImageSummary/builtAtLabel``); nil for images brought in
    /// any other way, which the daemon never removes on its own. RFC 3339 on the wire.
    public var builtAt: Date?

    /// Set by `skiff build` on every image it imports (the function's and a base from an archive), in seconds
    /// since 1970: the daemon's disk-pressure pruning removes only images that carry it.
    public static let builtAtLabel = "com.openfaas.skiff.built-at"

    public init(
        name: String, namespace: String, digest: String, size: Int, uniqueSize: Int, functions: [String],
        builtAt: Date?
    ) {
        self.name = name
        self.namespace = namespace
        self.digest = digest
        self.size = size
        self.uniqueSize = uniqueSize
        self.functions = functions
        self.builtAt = builtAt
    }

    enum CodingKeys: String, CodingKey {
        case name, namespace, digest, size, uniqueSize, functions, builtAt
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        namespace = try container.decode(String.self, forKey: .namespace)
        digest = try container.decode(String.self, forKey: .digest)
        size = try container.decode(Int.self, forKey: .size)
        uniqueSize = try container.decode(Int.self, forKey: .uniqueSize)
        functions = try container.decodeIfPresent([String].self, forKey: .functions) ?? []
        builtAt = try container.decodeIfPresent(String.self, forKey: .builtAt).flatMap {
            try? Date($0, strategy: .iso8601)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(namespace, forKey: .namespace)
        try container.encode(digest, forKey: .digest)
        try container.encode(size, forKey: .size)
        try container.encode(uniqueSize, forKey: .uniqueSize)
        try container.encode(functions, forKey: .functions)
        try container.encodeIfPresent(builtAt?.formatted(.iso8601), forKey: .builtAt)
    }
}

/// What a prune removed (POST /system/images/prune), and the bytes containerd gave back for it.
public struct ImagePruneSummary: Codable, Sendable, Equatable {
    public var removed: [ImageSummary]
    public var reclaimedBytes: Int

    public init(removed: [ImageSummary] = [], reclaimedBytes: Int = 0) {
        self.removed = removed
        self.reclaimedBytes = reclaimedBytes
    }
}
