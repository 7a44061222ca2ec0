import SkiffPOSIX

/// How a broker listens and what it allows; nats-server's defaults unless said otherwise.
public struct NATSConfiguration: Sendable {
    public var addresses: [SocketAddress]
    /// Reported in INFO; clients gate features on it (nats.py's consumer API on 2.9).
    public var version = "2.9.10"
    public var serverName = "skiff"
    public var authorization: Authorization?
    public var maxPayload = 1_048_576
    /// Bytes of arguments in one control line.
    public var maxControlLine = 4096
    /// Bytes waiting to be written to one client before it is a slow consumer and is closed.
    public var maxPending = 64 * 1024 * 1024
    public var maxConnections = 65_536
    /// 0: no limit.
    public var maxSubscriptions = 0
    /// The server pings a client this often (when it has been quiet) …
    public var pingInterval: Duration = .seconds(120)
    /// … and closes it with `Stale Connection` when a new ping would make more than this many unanswered.
    public var maxPingsOut = 2
    /// How long a client has to send its CONNECT when authorization is required.
    public var authTimeout: Duration = .seconds(2)
    /// A client that takes none of its pending output for this long is a slow consumer.
    public var writeDeadline: Duration = .seconds(10)
    /// Where JetStream keeps its streams; nil leaves JetStream off (INFO then does not advertise it).
    public var jetStreamDirectory: String?
    /// Told when accepting pauses for lack of descriptors, at most once a minute.
    public var acceptPauseReporter: (@Sendable (String) -> Void)?

    public init(addresses: [SocketAddress]) {
        self.addresses = addresses
    }

    /// One way to authenticate, checked against CONNECT's `auth_token`, or `user` and `pass`.
    public enum Authorization: Sendable, Equatable {
        case token(String)
        case user(String, password: String)
    }
}
