import SkiffPOSIX
import Synchronization

/// One protocol's state on one event loop of a stream server: its connections, and the acceptor that counts
/// them. Loop thread only, apart from creation.
public protocol StreamServerContext: AnyObject, Sendable {
    var loop: EventLoop { get }
    /// The loop's read buffer, shared by its connections.
    var readBuffer: ReadBuffer { get }
    /// Set before accepting starts; dropped when the server stops (it holds the closure that holds the context).
    var acceptor: StreamAcceptor? { get set }
    /// Takes over an accepted connection; the acceptor has counted it.
    func adopt(_ fd: Int32)
}

extension StreamServerContext {
    /// A connection on an accepted socket, started with the handler `make` gives it; nil, and reported closed to
    /// the acceptor, when the loop cannot watch it.
    public func startConnection<Handler: StreamHandler>(_ fd: Int32, _ make: (StreamConnection) -> Handler)
        -> Handler?
    {
        let transport = StreamConnection(fd: fd, loop: loop, readBuffer: readBuffer)
        let handler = make(transport)
        do {
            try transport.start(handler: handler)
        } catch {
            acceptor?.connectionClosed(on: loop)
            return nil
        }
        return handler
    }
}

/// The lifecycle every stream server shares, whatever its protocol (HTTP's, the NATS broker's): an acceptor
/// whose sockets go to one context per loop, started once, and stopped once. Any thread.
public final class StreamServer<Context: StreamServerContext>: Sendable {
    private enum State {
        case idle
        case running(acceptor: StreamAcceptor, contexts: [Context])
        case stopped
    }

    private let group: EventLoopGroup
    private let state = Mutex<State>(.idle)

    public init(group: EventLoopGroup) {
        self.group = group
    }

    /// The acceptor and the contexts while running.
    public var running: (acceptor: StreamAcceptor, contexts: [Context])? {
        state.withLock { state in
            if case .running(let acceptor, let contexts) = state { return (acceptor, contexts) }
            return nil
        }
    }

    public var isIdle: Bool {
        state.withLock { state in
            if case .idle = state { return true }
            return false
        }
    }

    /// Binds and starts accepting, with a context made for each loop. Back to idle when binding fails, so that
    /// the caller may retry.
    @discardableResult
    public func start(_ configuration: StreamAcceptor.Configuration, makeContext: (EventLoop) -> Context)
        async throws(StreamAcceptorError) -> [SocketAddress]
    {
        let contexts = group.loops.map(makeContext)
        let acceptor = StreamAcceptor(configuration: configuration, group: group) { fd, loop in
            contexts[loop.index].adopt(fd)
        }
        let alreadyStarted = state.withLock { state -> Bool in
            guard case .idle = state else { return true }
            state = .running(acceptor: acceptor, contexts: contexts)
            return false
        }
        if alreadyStarted { throw .alreadyStarted }
        for context in contexts { context.acceptor = acceptor }
        do {
            return try await acceptor.start()
        } catch {
            state.withLock { $0 = .idle }
            for context in contexts { context.acceptor = nil }
            throw error
        }
    }

    /// Marks the server stopped and stops accepting; returns the contexts for the protocol to close its
    /// connections in, nil when it was not running.
    public func stop() async -> (acceptor: StreamAcceptor, contexts: [Context])? {
        let taken = state.withLock { state -> (StreamAcceptor, [Context])? in
            guard case .running(let acceptor, let contexts) = state else { return nil }
            state = .stopped
            return (acceptor, contexts)
        }
        guard let (acceptor, contexts) = taken else { return nil }
        await acceptor.stop()
        return (acceptor, contexts)
    }

    /// Serves an already-connected socket as if it had been accepted (one end of a socketpair in tests). False,
    /// with the socket closed, when the server is not running or is at its connection limit.
    @discardableResult
    public func serveConnected(_ fd: Int32) -> Bool {
        guard let (acceptor, _) = running else {
            Socket.close(fd)
            return false
        }
        return acceptor.adoptConnected(fd)
    }

    /// The service entry point's shape: starts when idle, waits until the calling task is cancelled, then runs
    /// `shutdown`.
    public func runUntilCancelled(start: () async throws -> Void, shutdown: () async -> Void) async throws {
        if isIdle { try await start() }
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(3600))
        }
        await shutdown()
    }
}
