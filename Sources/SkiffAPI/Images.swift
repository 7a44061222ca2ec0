/// GET /system/images and POST /system/images/prune (Skiff's own routes; OpenFaaS has no image API): the
/// images in a function namespace, as the gateway answers and `skiff images` reads them.
public struct ImageSummary: Codable, Sendable, Equatable {
    public var name: String
    public var namespace: String
    public var digest: String
    /// Bytes of the image's content in containerd, layers shared with other images included.
    public var size: Int
    /// Bytes only this image holds: what removing it gives back.
    public var uniqueSize: Int
    /// The functions deployed from this image.
    public var functions: [String]
    /// RFC 3339, when `skiff build` made or imported it; absent for images that came another way.
    public var builtAt: String?

    public init(
        name: String, namespace: String, digest: String, size: Int, uniqueSize: Int, functions: [String],
        builtAt: String?
    ) {
        self.name = name
        self.namespace = namespace
        self.digest = digest
        self.size = size
        self.uniqueSize = uniqueSize
        self.functions = functions
        self.builtAt = builtAt
    }
}

/// What POST /system/images/prune removed.
public struct ImagePruneSummary: Codable, Sendable, Equatable {
    public var removed: [ImageSummary]
    /// Bytes containerd gave back.
    public var reclaimedBytes: Int

    public init(removed: [ImageSummary], reclaimedBytes: Int) {
        self.removed = removed
        self.reclaimedBytes = reclaimedBytes
    }
}
