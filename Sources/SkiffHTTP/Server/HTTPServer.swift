import SkiffNet
import SkiffPOSIX
import Synchronization

/// An HTTP/1.1 server on an event loop group. Each loop accepts from the shared listening sockets and hands each
/// connection to the loop serving the fewest, which serves it from then on; handlers are `async` and start on
/// the connection's loop.
///
/// Lifecycle: ``start()`` binds and reports the addresses; ``run()`` is the service entry point (it starts if
/// needed, waits until its task is cancelled, then shuts down gracefully); ``shutdown(gracePeriod:)`` stops
/// accepting, lets in-flight requests finish until the deadline, then closes whatever is left.
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    private let group: EventLoopGroup
    private let responder: any HTTPResponder
    private let lifecycle: StreamServer<ServerLoopContext>
    /// Set the moment shutdown begins, before any loop hears of it, so that every response written from then on
    /// on any loop says `Connection: close`; a lock-free read because every response consults it.
    private let closing = Atomic<Bool>(false)
    /// How long ``run()`` gives in-flight requests when its task is cancelled.
    public let gracePeriod: Duration

    public init(
        configuration: HTTPServerConfiguration, group: EventLoopGroup, responder: any HTTPResponder,
        gracePeriod: Duration = .seconds(10)
    ) {
        self.configuration = configuration
        self.group = group
        self.responder = responder
        self.gracePeriod = gracePeriod
        lifecycle = StreamServer(group: group)
    }

    private var acceptor: StreamAcceptor? { lifecycle.running?.acceptor }

    /// The bound addresses (with the real port when port 0 was asked for). Empty before ``start()``.
    public var localAddresses: [SocketAddress] { acceptor?.localAddresses ?? [] }

    /// The number of open client connections.
    public var connectionCount: Int { acceptor?.connectionCount ?? 0 }

    /// Binds every configured address and starts accepting on every loop. Returns the bound addresses.
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        try await lifecycle.start(
            .init(
                addresses: configuration.addresses, maxConnections: configuration.maxConnections,
                refusal: Self.overloaded, acceptsPeer: configuration.acceptsPeer,
                pauseReporter: configuration.acceptPauseReporter)
        ) { loop in
            ServerLoopContext(loop: loop, configuration: configuration, responder: responder, server: self)
        }
    }

    /// Serves an already-connected stream socket as if it had been accepted: the engine's tests talk to it over
    /// one end of a socketpair, with no port to find and no network in between. False when the server is not
    /// running or is at its connection limit (the socket then gets the 503 and is closed).
    @discardableResult
    public func serveConnected(_ fd: Int32) -> Bool {
        guard !isClosing else {
            Socket.close(fd)
            return false
        }
        return lifecycle.serveConnected(fd)
    }

    private static let overloaded: [UInt8] = {
        var bytes: [UInt8] = []
        WireEncoding.appendClosingText(
            .serviceUnavailable, "the server is at its connection limit; retry shortly", dateLine: [], to: &bytes)
        return bytes
    }()

    /// The service entry point: runs until the calling task is cancelled, then shuts down gracefully.
    public func run() async throws {
        try await lifecycle.runUntilCancelled(
            start: { try await start() }, shutdown: { await shutdown(gracePeriod: gracePeriod) })
    }

    /// Stops accepting, closes idle connections, lets requests in flight finish until `gracePeriod` has passed,
    /// then closes the rest.
    public func shutdown(gracePeriod: Duration) async {
        closing.store(true, ordering: .releasing)
        guard let (acceptor, contexts) = await lifecycle.stop() else { return }
        for context in contexts {
            try? await context.loop.submit { context.beginShutdown() }
        }
        await acceptor.waitForConnectionsToClose(until: .now + gracePeriod)
        for context in contexts {
            try? await context.loop.submit { context.closeAll() }
        }
    }

    /// Whether ``shutdown(gracePeriod:)`` has begun: every response from then on closes its connection.
    var isClosing: Bool { closing.load(ordering: .acquiring) }
}

/// Why a server could not start.
public typealias HTTPServerError = StreamAcceptorError
