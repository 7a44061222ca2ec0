import SkiffPOSIX

/// Limits and timeouts of an HTTP server. Defaults suit a gateway on a small VM.
public struct HTTPServerConfiguration: Sendable {
    /// Addresses to listen on. Port 0 binds a free port; ``HTTPServer/start()`` reports it.
    public var addresses: [SocketAddress]
    /// Request line plus header fields; beyond it the answer is 431.
    public var maxHeadBytes = 64 * 1024
    /// Default request body limit (413 beyond it); a route may set its own.
    public var maxBodyBytes = 128 * 1024 * 1024
    /// Time from a request's first byte to the end of its head; beyond it 408 and close (slowloris).
    public var headTimeout: Duration = .seconds(10)
    /// A request body that stops arriving for this long, while the handler waits for it, is answered 408 (or the
    /// connection closed if the answer has begun). Handler time itself is not limited here.
    public var bodyTimeout: Duration = .seconds(60)
    /// A response the client stops reading for this long (output queued, nothing written) closes the connection.
    /// A long computation before the answer is not a stall.
    public var writeTimeout: Duration = .seconds(60)
    /// An idle keep-alive connection is closed after this long.
    public var idleTimeout: Duration = .seconds(75)
    /// Open connections beyond this are answered 503 and closed at once.
    public var maxConnections = 10_000
    /// After an error answer with request bytes still arriving, the server shuts down its sending side and
    /// discards input this long before closing, so the client reads the answer instead of a connection reset.
    public var lingerTimeout: Duration = .seconds(2)
    /// Unread request body the server drains to keep a connection alive; more than this closes it instead.
    public var maxDrainBytes = 1024 * 1024
    /// Told (with a message saying what to do) when accepting pauses because descriptors ran out; at most once a
    /// minute.
    public var acceptPauseReporter: (@Sendable (String) -> Void)?
    /// When set, a connection from a peer it refuses is closed at once, before a byte is read (a listener meant
    /// for one network only, such as the functions' bridge).
    public var acceptsPeer: (@Sendable (SocketAddress) -> Bool)?

    public init(addresses: [SocketAddress]) {
        self.addresses = addresses
    }

    public init(host: String = "127.0.0.1", port: Int) {
        self.addresses = SocketAddress(host: host, port: port).map { [$0] } ?? []
    }
}
