import SkiffNet
import SkiffPOSIX

/// One loop's idle keep-alive connections by address, and the read buffer its connections share.
/// Loop thread only.
final class ClientPool: @unchecked Sendable {
    /// Where a connection goes: an address, dialled from the daemon's network namespace or from another one.
    struct Key: Hashable, CustomStringConvertible {
        var address: SocketAddress
        var networkNamespace: String?

        var description: String {
            networkNamespace.map { "\(address) inside \($0)" } ?? address.description
        }
    }

    // @unchecked: created off-loop, then used only on `loop` (HTTPClient hops there before calling in).
    let loop: EventLoop
    let configuration: HTTPClient.Configuration
    let readBuffer = ReadBuffer()
    /// A class, so that taking and returning a connection mutate the list found by a plain lookup: changing an
    /// array stored in the dictionary goes through an accessor that allocates, on every proxied request.
    private final class IdleList {
        var connections: [HTTPClientConnection] = []
    }

    private var idle: [Key: IdleList] = [:]
    private var sweepTimer: TimerHandle?

    init(loop: EventLoop, configuration: HTTPClient.Configuration) {
        self.loop = loop
        self.configuration = configuration
    }

    func execute(_ request: HTTPClientRequest, address: SocketAddress, timeout: Duration?) async throws
        -> HTTPClientResponse
    {
        let key = Key(address: address, networkNamespace: request.networkNamespace)
        let deadline = timeout.map { monotonicNanoseconds() &+ $0.nanoseconds }
        // A pooled connection may have been closed by the server a moment ago; a request whose body can be
        // sent again gets one more try on a fresh connection, as browsers and Go's client do.
        if let reused = takeIdle(key) {
            do {
                return try await reused.send(request, deadline: deadline)
            } catch let error as HTTPClientError
                where reused.failedBeforeResponse && request.body.isReplayable
                && (error == .connectionReset || error == .remoteClosed)
            {
                // fall through to a new connection
            }
        }
        let connection = try await HTTPClientConnection.connect(
            key, pool: self, timeout: configuration.connectTimeout, deadline: deadline)
        return try await connection.send(request, deadline: deadline)
    }

    // Lists are kept when empty (the sweep drops those): taking a connection and giving it back happen on every
    // proxied request, and must not allocate.
    private func takeIdle(_ key: Key) -> HTTPClientConnection? {
        guard let list = idle[key] else { return nil }
        while let connection = list.connections.popLast() {
            if connection.isUsable { return connection }
        }
        return nil
    }

    func release(_ connection: HTTPClientConnection) {
        let list: IdleList
        if let existing = idle[connection.key] {
            list = existing
        } else {
            list = IdleList()
            idle[connection.key] = list
        }
        guard list.connections.count < configuration.maxIdlePerHost else {
            connection.close()
            return
        }
        list.connections.append(connection)
        if sweepTimer == nil { scheduleSweep() }
    }

    func remove(_ connection: HTTPClientConnection) {
        idle[connection.key]?.connections.removeAll { $0 === connection }
    }

    func closeIdle() {
        let all = idle.values.flatMap(\.connections)
        idle.removeAll()
        for connection in all { connection.close() }
    }

    private func scheduleSweep() {
        let interval = max(configuration.idleTimeout.nanoseconds / 2, 100_000_000)
        // Strong: a weak reference would put the pool's refcounting on the slow path; the timer keeps the pool
        // alive at most one interval after its last idle connection.
        sweepTimer = loop.scheduleTimer(afterNanoseconds: interval) { [self] in
            self.sweepTimer = nil
            let limit = self.configuration.idleTimeout.nanoseconds
            let now = self.loop.now
            for connection in self.idle.values.flatMap(\.connections) where now &- connection.idleSince > limit {
                connection.close()
            }
            self.idle = self.idle.filter { !$0.value.connections.isEmpty }
            if !self.idle.isEmpty { self.scheduleSweep() }
        }
    }
}

extension HTTPBody {
    /// Fixed bytes can be sent again; a stream cannot.
    var isReplayable: Bool {
        if case .bytes = storage { return true }
        return false
    }
}
