import Foundation
import SkiffAPI

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

    func admits(_ image: ImageSummary) -> Bool {
        guard let built = image.builtAt else { return !onlyBuilt }
        return builtBefore.map { built < $0 } ?? true
    }

    /// Images of unknown age first, then the oldest builds; by name within a tie, so a prune is repeatable.
    static func oldestFirst(_ a: ImageSummary, _ b: ImageSummary) -> Bool {
        switch (a.builtAt, b.builtAt) {
        case (nil, nil): return a.name < b.name
        case (nil, _): return true
        case (_, nil): return false
        case (let x?, let y?): return x == y ? a.name < b.name : x < y
        }
    }
}
