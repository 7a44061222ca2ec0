import Foundation

/// An image in one of the functions' containerd namespaces, as `skiff images` lists it.
public struct StoredImage: Sendable, Equatable {
    public var name: String
    public var namespace: String
    /// The digest containerd lists: the manifest's, or the index's for a multi-platform image.
    public var digest: String
    /// Bytes of this image's content in containerd (index, manifest, config, layers), shared layers included.
    public var size: Int
    /// Bytes no other image in the namespace shares: what removing this image alone gives back.
    public var uniqueSize: Int
    /// This daemon's functions whose image is this name.
    public var functions: [String]
    /// When `skiff build` made or imported it (label ``StoredImage/builtAtLabel``); nil for images brought in
    /// any other way, which the daemon never removes on its own.
    public var builtAt: Date?

    /// Set by `skiff build` on every image it imports (the function's and a base from an archive), in seconds
    /// since 1970: the daemon's disk-pressure pruning removes only images that carry it.
    public static let builtAtLabel = "com.openfaas.skiff.built-at"
}

/// What a prune removed, and the bytes containerd gave back for it.
public struct ImagePruneReport: Sendable, Equatable {
    public var removed: [StoredImage] = []
    public var reclaimedBytes = 0

    public init() {}
}

/// Which unused images a prune may remove, and when it has removed enough.
public struct ImagePruneFilter: Sendable {
    /// Only images `skiff build` made or imported: the daemon's own pruning never touches the rest.
    public var onlyBuilt = false
    /// Only images built before this moment: a build is left time to be deployed.
    public var builtBefore: Date?
    /// Asked before each removal; true stops the prune (the disk has room again).
    public var enough: @Sendable () -> Bool = { false }

    public init(onlyBuilt: Bool = false, builtBefore: Date? = nil, enough: @escaping @Sendable () -> Bool = { false }) {
        self.onlyBuilt = onlyBuilt
        self.builtBefore = builtBefore
        self.enough = enough
    }

    func admits(_ image: StoredImage) -> Bool {
        guard let built = image.builtAt else { return !onlyBuilt }
        return builtBefore.map { built < $0 } ?? true
    }

    /// Images of unknown age first, then the oldest builds; by name within a tie, so a prune is repeatable.
    static func oldestFirst(_ a: StoredImage, _ b: StoredImage) -> Bool {
        switch (a.builtAt, b.builtAt) {
        case (nil, nil): return a.name < b.name
        case (nil, _): return true
        case (_, nil): return false
        case (let x?, let y?): return x == y ? a.name < b.name : x < y
        }
    }
}
