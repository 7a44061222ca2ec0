import SkiffImage

/// Holds the images that deploys and updates are about to use, so that a prune running at the same moment
/// cannot remove one between its lookup and the replicas' snapshots; a prune waits for nobody, and new leases
/// wait for a prune in progress.
actor ImageLeases {
    private var held: [String: Int] = [:]
    private var pruning = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    static func key(_ namespace: String, _ reference: String) -> String {
        "\(namespace)/\((try? ImageReference(parsing: reference).description) ?? reference)"
    }

    func acquire(_ key: String) async {
        while pruning { await withCheckedContinuation { waiting.append($0) } }
        held[key, default: 0] += 1
    }

    func release(_ key: String) {
        guard let count = held[key] else { return }
        held[key] = count > 1 ? count - 1 : nil
    }

    /// Runs `body` with no new lease granted meanwhile; it gets the keys leased right now.
    func exclusively<T: Sendable>(_ body: @Sendable (Set<String>) async throws -> T) async throws -> T {
        while pruning { await withCheckedContinuation { waiting.append($0) } }
        pruning = true
        defer {
            pruning = false
            let resumed = waiting
            waiting = []
            for continuation in resumed { continuation.resume() }
        }
        return try await body(Set(held.keys))
    }
}
