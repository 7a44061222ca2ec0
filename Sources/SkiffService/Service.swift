/// A long-lived part of the daemon: the gateway's listener, and later the queue worker, the metrics store and the
/// autoscaler. `run()` returns or throws when the service has stopped; it must stop when its task is cancelled.
public protocol Service: Sendable {
    /// A short name for logs.
    var name: String { get }
    func run() async throws
}

/// A service given by its name and what it runs: how the daemon wraps parts whose `run()` already has the
/// service's shape (a listener, the runtime's event watch, a periodic job).
public struct NamedService: Service {
    public let name: String
    private let body: @Sendable () async throws -> Void

    public init(_ name: String, _ body: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.body = body
    }

    public func run() async throws { try await body() }
}
