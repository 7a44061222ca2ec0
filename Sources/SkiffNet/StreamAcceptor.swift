import SkiffPOSIX
import Synchronization

/// Listening sockets shared by every loop of a group, for any stream protocol. Each loop accepts from them
/// (EPOLLEXCLUSIVE, so a second server on the same port fails to bind instead of silently sharing it) and hands
/// each connection to the loop serving the fewest, which serves it from then on.
///
/// The protocol says what to do with an accepted socket (`adopt`, called on the loop chosen for it) and reports
/// each connection's end with ``connectionClosed(on:)``, which is what the limit and the balance count.
public final class StreamAcceptor: Sendable {
    public struct Configuration: Sendable {
        public var addresses: [SocketAddress]
        /// Past this many open connections a new one gets `refusal` and is closed.
        public var maxConnections: Int
        /// Written to a connection refused for the limit (an HTTP 503, a NATS -ERR), then it is closed.
        public var refusal: [UInt8]
        /// Decides from the peer's address whether a connection is served; nil serves every peer.
        public var acceptsPeer: (@Sendable (SocketAddress) -> Bool)?
        /// Told when accepting pauses for lack of descriptors, at most once a minute.
        public var pauseReporter: (@Sendable (String) -> Void)?

        public init(
            addresses: [SocketAddress], maxConnections: Int, refusal: [UInt8] = [],
            acceptsPeer: (@Sendable (SocketAddress) -> Bool)? = nil, pauseReporter: (@Sendable (String) -> Void)? = nil
        ) {
            self.addresses = addresses
            self.maxConnections = maxConnections
            self.refusal = refusal
            self.acceptsPeer = acceptsPeer
            self.pauseReporter = pauseReporter
        }
    }

    public let configuration: Configuration
    let loops: [EventLoop]
    /// Connections each loop serves or has been handed and not yet adopted, by loop index.
    let loads: [LoopLoad]
    let adopt: @Sendable (Int32, EventLoop) -> Void
    private let state = Mutex<State>(.idle)
    private let openConnections = Atomic<Int>(0)
    private let lastPauseReport = Atomic<UInt64>(0)
    private let closing = Atomic<Bool>(false)
    /// Notified when a connection ends, for ``waitForConnectionsToClose(until:)``.
    private let connectionEnded = ChangeSignal()

    private enum State {
        case idle
        case listening(descriptors: [Int32], addresses: [SocketAddress])
        case stopped
    }

    /// One loop's count of connections, read by every loop's listener.
    final class LoopLoad: Sendable {
        let value = Atomic<Int>(0)
    }

    public init(
        configuration: Configuration, group: EventLoopGroup, adopt: @escaping @Sendable (Int32, EventLoop) -> Void
    ) {
        self.configuration = configuration
        self.loops = group.loops
        self.loads = group.loops.map { _ in LoopLoad() }
        self.adopt = adopt
    }

    /// The bound addresses (with the real port when port 0 was asked for). Empty before ``start()``.
    public var localAddresses: [SocketAddress] {
        state.withLock { state in
            if case .listening(_, let addresses) = state { return addresses }
            return []
        }
    }

    /// The number of open connections.
    public var connectionCount: Int { openConnections.load(ordering: .relaxed) }

    /// Open connections by loop index: how evenly the loops share them.
    public var connectionsByLoop: [Int] { loads.map { $0.value.load(ordering: .relaxed) } }

    /// Whether ``stop()`` has begun: a listener paused for lack of descriptors stays down.
    public var isStopping: Bool { closing.load(ordering: .acquiring) }

    /// Binds every address and starts accepting on every loop. Returns the bound addresses.
    @discardableResult
    public func start() async throws(StreamAcceptorError) -> [SocketAddress] {
        guard !configuration.addresses.isEmpty else { throw .noAddress }
        var descriptors: [Int32] = []
        var addresses: [SocketAddress] = []
        do {
            for address in configuration.addresses {
                let fd = try Socket.listen(on: address, reusePort: false)
                descriptors.append(fd)
                addresses.append(try Socket.localAddress(fd))
            }
        } catch {
            for fd in descriptors { Socket.close(fd) }
            throw .bindFailed(addresses: configuration.addresses.map(\.description), underlying: error)
        }
        let alreadyStarted = state.withLock { state -> Bool in
            guard case .idle = state else { return true }
            state = .listening(descriptors: descriptors, addresses: addresses)
            return false
        }
        if alreadyStarted {
            for fd in descriptors { Socket.close(fd) }
            throw .alreadyStarted
        }
        let bound = descriptors
        for loop in loops {
            do {
                try await loop.submit {
                    for fd in bound {
                        try loop.register(
                            fd, interest: .acceptExclusive, handler: Listener(fd: fd, loop: loop, owner: self))
                    }
                }
            } catch {
                await stop()
                throw .bindFailed(
                    addresses: configuration.addresses.map(\.description),
                    underlying: error as? SystemError ?? SystemError(call: "epoll_ctl", errno: 0))
            }
        }
        return addresses
    }

    /// Stops accepting and closes the listening sockets; open connections are the protocol's to finish.
    public func stop() async {
        let taken = state.withLock { state -> [Int32]? in
            guard case .listening(let descriptors, _) = state else { return nil }
            state = .stopped
            closing.store(true, ordering: .releasing)
            return descriptors
        }
        guard let descriptors = taken else { return }
        for loop in loops {
            try? await loop.submit { for fd in descriptors { loop.deregister(fd) } }
        }
        for fd in descriptors { Socket.close(fd) }
    }

    /// A connection handed to `adopt` ended (or could not be adopted). Any thread.
    public func connectionClosed(on loop: EventLoop) {
        loads[loop.index].value.subtract(1, ordering: .relaxed)
        openConnections.wrappingSubtract(1, ordering: .relaxed)
        connectionEnded.notify()
    }

    /// Returns once no connection is open, or at the deadline (a graceful shutdown's grace period).
    public func waitForConnectionsToClose(until deadline: ContinuousClock.Instant) async {
        _ = await connectionEnded.first(until: deadline) { connectionCount == 0 ? () : nil }
    }

    /// Serves a socket that is already connected exactly as an accepted one: counted against the limit (past
    /// it, the refusal is written and the socket closed), handed to the loop serving the fewest (`preferred` on
    /// a tie), and reported by ``connectionClosed(on:)`` when it ends. The listeners use it for every accepted
    /// connection; tests hand it one end of a socketpair, to exercise a protocol with no port and no network.
    /// Any thread.
    @discardableResult
    public func adoptConnected(_ fd: Int32, preferring preferred: EventLoop? = nil) -> Bool {
        guard reserveConnection() else {
            _ = configuration.refusal.withUnsafeBytes { try? Socket.write(fd, from: $0) }
            Socket.close(fd)
            return false
        }
        let current = preferred ?? EventLoop.current.flatMap { loop in loops.first { $0 === loop } } ?? loops[0]
        let target = leastLoaded(preferring: current)
        loads[target.index].value.add(1, ordering: .relaxed)
        if target.inEventLoop {
            adopt(fd, target)
        } else {
            target.execute { [adopt] in adopt(fd, target) }
        }
        return true
    }

    // MARK: For the listeners

    func reserveConnection() -> Bool {
        let now = openConnections.wrappingAdd(1, ordering: .relaxed).newValue
        if now > configuration.maxConnections {
            openConnections.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func acceptPaused(_ error: SystemError) {
        let now = monotonicNanoseconds()
        let last = lastPauseReport.load(ordering: .relaxed)
        guard last == 0 || now &- last > 60_000_000_000,
            lastPauseReport.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
        else { return }
        configuration.pauseReporter?(
            "cannot accept connections: \(error); pausing the listener briefly. Raise the open-files limit "
                + "(LimitNOFILE=) or lower the number of idle client connections")
    }

    /// The loop serving the fewest connections, `preferred` on a tie.
    func leastLoaded(preferring preferred: EventLoop) -> EventLoop {
        var best = preferred
        var bestLoad = loads[preferred.index].value.load(ordering: .relaxed)
        for loop in loops where loop !== preferred {
            let load = loads[loop.index].value.load(ordering: .relaxed)
            if load < bestLoad { (best, bestLoad) = (loop, load) }
        }
        return best
    }
}

/// Why an acceptor could not start.
public enum StreamAcceptorError: Error, CustomStringConvertible {
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
