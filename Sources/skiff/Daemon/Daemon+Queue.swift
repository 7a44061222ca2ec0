import SkiffNATS
import SkiffNATSClient
import SkiffPOSIX
import SkiffQueue

extension Daemon {
    /// The queues of asynchronous calls: on the NATS cluster `--queue` names (with the service that pulls from
    /// it), else in the broker's JetStream when it runs (so that NATS clients can queue calls), else in the same
    /// folder on their own. A queue elsewhere comes with a line for the log saying where.
    static func openQueue(
        options: ServeOptions, broker: NATSServer?, group: EventLoopGroup
    ) async throws -> (queue: any CallQueue, announcement: String?) {
        if !options.queue.isEmpty {
            let address = try ClusterAddress(parsing: options.queue)
            let queue = try await ClusterQueue.connect(address, loop: group.next(), defaultNamespace: options.namespace)
            return (queue, "skiff serve: queue on \(address.display)")
        }
        let streams = "\(options.stateDirectory)/streams"
        guard let broker, try broker.stream(AsyncQueue.deadConfiguration) != nil else {
            return (try AsyncQueue.open(directory: streams, defaultNamespace: options.namespace), nil)
        }
        let queue = try AsyncQueue(directory: streams, defaultNamespace: options.namespace) { configuration in
            guard let stream = try broker.stream(configuration) else {
                throw NATSClientError.connect("the broker runs without JetStream")
            }
            return stream
        }
        return (queue, nil)
    }
}
