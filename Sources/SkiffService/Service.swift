/// A long-lived part of the daemon: the gateway's listener, and later the queue worker, the metrics store and the
/// autoscaler. `run()` returns or throws when the service has stopped; it must stop when its task is cancelled.
public protocol Service: Sendable {
    /// A short name for logs.
    var name: String { get }
    func run() async throws
}
