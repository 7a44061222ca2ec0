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
    private let openConnections = Atomic<Int>(0)
    private let lastAcceptPauseReport = Atomic<UInt64>(0)
    /// Set the moment shutdown begins, before any loop hears of it, so that every response written from then on
    /// on any loop says `Connection: close`; a lock-free read because every response consults it.
    private let closing = Atomic<Bool>(false)
    /// How long ``run()`` gives in-flight requests when its task is cancelled.
    public let gracePeriod: Duration

    private enum State {
        case idle
        case running(listeners: [Int32], contexts: [ServerLoopContext], addresses: [SocketAddress])
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

    /// The bound addresses (with the real port when port 0 was asked for). Empty before ``start()``.
    public var localAddresses: [SocketAddress] {
        state.withLock { state in
            if case .running(_, _, let addresses) = state { return addresses }
            return []
        }
    }

    /// The number of open client connections.
    public var connectionCount: Int { openConnections.load(ordering: .relaxed) }

    /// Binds every configured address and starts accepting on every loop. Returns the bound addresses.
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        guard !configuration.addresses.isEmpty else { throw HTTPServerError.noAddress }
        var listeners: [Int32] = []
        var addresses: [SocketAddress] = []
        do {
            for address in configuration.addresses {
                let fd = try Socket.listen(on: address, reusePort: false)
                listeners.append(fd)
                addresses.append(try Socket.localAddress(fd))
            }
        } catch {
            for fd in listeners { Socket.close(fd) }
            throw HTTPServerError.bindFailed(addresses: configuration.addresses.map(\.description), underlying: error)
        }
        let contexts = group.loops.map {
            ServerLoopContext(loop: $0, configuration: configuration, responder: responder, server: self)
        }
        let alreadyStarted = state.withLock { state -> Bool in
            guard case .idle = state else { return true }
            state = .running(listeners: listeners, contexts: contexts, addresses: addresses)
            return false
        }
        if alreadyStarted {
            for fd in listeners { Socket.close(fd) }
            throw HTTPServerError.alreadyStarted
        }
        let bound = listeners
        for context in contexts {
            try await context.loop.submit {
                for fd in bound {
                    try context.loop.register(
                        fd, interest: .acceptExclusive,
                        handler: HTTPListener(fd: fd, context: context, siblings: contexts))
                }
            }
        }
        return addresses
    }

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
        let taken = state.withLock { state -> (listeners: [Int32], contexts: [ServerLoopContext])? in
            guard case .running(let listeners, let contexts, _) = state else { return nil }
            state = .stopped
            closing.store(true, ordering: .releasing)
            return (listeners, contexts)
        }
        guard let (listeners, contexts) = taken else { return }
        for context in contexts {
            try? await context.loop.submit {
                for fd in listeners { context.loop.deregister(fd) }
                context.beginShutdown()
            }
        }
        for fd in listeners { Socket.close(fd) }
        let deadline = ContinuousClock.now + gracePeriod
        while connectionCount > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        for context in contexts {
            try? await context.loop.submit { context.closeAll() }
        }
    }

    // MARK: Connection accounting (any thread)

    /// Whether ``shutdown(gracePeriod:)`` has begun: a listener paused for lack of descriptors stays down, and
    /// every response from then on closes its connection.
    var isClosing: Bool { closing.load(ordering: .acquiring) }

    /// A listener ran out of descriptors and pauses; reported at most once a minute, not once per attempt.
    func acceptPaused(_ error: SystemError) {
        let now = monotonicNanoseconds()
        let last = lastAcceptPauseReport.load(ordering: .relaxed)
        guard last == 0 || now &- last > 60_000_000_000,
            lastAcceptPauseReport.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
        else { return }
        configuration.acceptPauseReporter?(
            "cannot accept connections: \(error); pausing the listener briefly. Raise the open-files limit "
                + "(LimitNOFILE=) or lower the number of idle client connections")
    }

    func reserveConnection() -> Bool {
        let now = openConnections.wrappingAdd(1, ordering: .relaxed).newValue
        if now > configuration.maxConnections {
            openConnections.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func connectionClosed() {
        openConnections.wrappingSubtract(1, ordering: .relaxed)
    }
}

/// Why a server could not start.
public enum HTTPServerError: Error, CustomStringConvertible {
    case noAddress
    case alreadyStarted
    case bindFailed(addresses: [String], underlying: SystemError)

    public var description: String {
        switch self {
        case .noAddress: return "no listen address was configured"
        case .alreadyStarted: return "the server was already started"
        case .bindFailed(let addresses, let error):
            if error.errno == 98 {
                return "cannot listen on \(addresses.joined(separator: ", ")): the address is already in use; "
                    + "stop the other server or choose another port"
            }
            return "cannot listen on \(addresses.joined(separator: ", ")): \(error)"
        }
    }
}
