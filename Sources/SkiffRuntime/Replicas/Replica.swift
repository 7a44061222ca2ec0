/// One replica's fixed facts: which containerd container, network namespace and snapshot it owns, and its
/// address on the bridge. All of it is also stored as labels on the container, which is how a restarted daemon
/// finds it again.
struct Replica: Sendable, Equatable {
    var id: String
    var namespace: String
    var function: String
    var generation: String
    var networkNamespace: String
    var address: String
    var snapshotKey: String

    enum Label {
        static let instance = "skiff.instance"
        static let function = "skiff.function"
        static let generation = "skiff.generation"
        static let networkNamespace = "skiff.netns"
        static let address = "skiff.address"
        static let snapshot = "skiff.snapshot"
    }

    var labels: [String: String] {
        [
            Label.function: function, Label.generation: generation, Label.networkNamespace: networkNamespace,
            Label.address: address, Label.snapshot: snapshotKey,
        ]
    }
}

extension Replica {
    /// Rebuilds a replica from its container's labels; nil when they are not Skiff's.
    init?(id: String, namespace: String, labels: [String: String]) {
        guard let function = labels[Label.function], let generation = labels[Label.generation],
            let networkNamespace = labels[Label.networkNamespace], let snapshot = labels[Label.snapshot]
        else { return nil }
        self.init(
            id: id, namespace: namespace, function: function, generation: generation,
            networkNamespace: networkNamespace, address: labels[Label.address] ?? "", snapshotKey: snapshot)
    }
}
