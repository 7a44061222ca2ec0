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
    private let state = Mutex<State>(.idle)
    /// Set the moment shutdown begins, before any loop hears of it, so that every response written from then on
    /// on any loop says `Connection: close`; a lock-free read because every response consults it.
    private let closing = Atomic<Bool>(false)
    /// How long ``run()`` gives in-flight requests when its task is cancelled.
    public let gracePeriod: Duration

    private enum State {
        case idle
        case running(acceptor: StreamAcceptor, contexts: [ServerLoopContext])
        case stopped
    }

    public init(
        configuration: HTTPServerConfiguration, group: EventLoopGroup, responder: any HTTPResponder,
        gracePeriod: Duration = .seconds(10)
    ) {
        self.configuration = configuration
        self.group = group
        self.responder = responder
        self.gracePeriod = gracePeriod
    }

    private var acceptor: StreamAcceptor? {
        state.withLock { state in
            if case .running(let acceptor, _) = state { return acceptor }
            return nil
        }
    }

    /// The bound addresses (with the real port when port 0 was asked for). Empty before ``start()``.
    public var localAddresses: [SocketAddress] { acceptor?.localAddresses ?? [] }

    /// The number of open client connections.
    public var connectionCount: Int { acceptor?.connectionCount ?? 0 }

    /// Binds every configured address and starts accepting on every loop. Returns the bound addresses.
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        let contexts = group.loops.map {
            ServerLoopContext(loop: $0, configuration: configuration, responder: responder, server: self)
        }
        let acceptor = StreamAcceptor(
            configuration: .init(
                addresses: configuration.addresses, maxConnections: configuration.maxConnections,
                refusal: Self.overloaded, acceptsPeer: configuration.acceptsPeer,
                pauseReporter: configuration.acceptPauseReporter),
            group: group
        ) { fd, loop in contexts[loop.index].adopt(fd) }
        let alreadyStarted = state.withLock { state -> Bool in
            guard case .idle = state else { return true }
            state = .running(acceptor: acceptor, contexts: contexts)
            return false
        }
        if alreadyStarted { throw StreamAcceptorError.alreadyStarted }
        for context in contexts { context.acceptor = acceptor }
        do {
            return try await acceptor.start()
        } catch {
            // Nothing was accepted: back to idle, so the caller may retry, and the contexts let go of the acceptor
            // (whose adopt closure holds them).
            state.withLock { $0 = .idle }
            for context in contexts { context.acceptor = nil }
            throw error
        }
    }

    /// Serves an already-connected stream socket as if it had been accepted (see
    /// ``StreamAcceptor/adoptConnected(_:preferring:)``): the engine's tests talk to it over one end of a
    /// socketpair, with no port to find and no network in between. False when the server is not running or is at
    /// its connection limit (the socket then gets the 503 and is closed).
    @discardableResult
    public func serveConnected(_ fd: Int32) -> Bool {
        guard let acceptor, !isClosing else {
            Socket.close(fd)
            return false
        }
        return acceptor.adoptConnected(fd)
    }

    private static let overloaded: [UInt8] = {
        var bytes: [UInt8] = []
        WireEncoding.appendClosingText(
            .serviceUnavailable, "the server is at its connection limit; retry shortly", dateLine: [], to: &bytes)
        return bytes
    }()

    /// The service entry point: runs until the calling task is cancelled, then shuts down gracefully.
    public func run() async throws {
        if case .idle = state.withLock({ $0 }) { try await start() }
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(3600))
        }
        await shutdown(gracePeriod: gracePeriod)
    }

    /// Stops accepting, closes idle connections, lets requests in flight finish until `gracePeriod` has passed,
    /// then closes the rest.
    public func shutdown(gracePeriod: Duration) async {
        let taken = state.withLock { state -> (acceptor: StreamAcceptor, contexts: [ServerLoopContext])? in
            guard case .running(let acceptor, let contexts) = state else { return nil }
            state = .stopped
            closing.store(true, ordering: .releasing)
            return (acceptor, contexts)
        }
        guard let (acceptor, contexts) = taken else { return }
        await acceptor.stop()
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
