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
    let scratch: UnsafeMutableRawBufferPointer
    private var idle: [Key: [HTTPClientConnection]] = [:]
    private var sweepTimer: TimerHandle?

    init(loop: EventLoop, configuration: HTTPClient.Configuration) {
        self.loop = loop
        self.configuration = configuration
        scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit { scratch.deallocate() }

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

    private func takeIdle(_ key: Key) -> HTTPClientConnection? {
        while var list = idle[key], let connection = list.popLast() {
            idle[key] = list.isEmpty ? nil : list
            if connection.isUsable { return connection }
        }
        return nil
    }

    func release(_ connection: HTTPClientConnection) {
        var list = idle[connection.key] ?? []
        guard list.count < configuration.maxIdlePerHost else {
            connection.close()
            return
        }
        list.append(connection)
        idle[connection.key] = list
        if sweepTimer == nil { scheduleSweep() }
    }

    func remove(_ connection: HTTPClientConnection) {
        guard var list = idle[connection.key] else { return }
        list.removeAll { $0 === connection }
        idle[connection.key] = list.isEmpty ? nil : list
    }

    func closeIdle() {
        let all = idle.values.flatMap { $0 }
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
            for connection in self.idle.values.flatMap({ $0 }) where now &- connection.idleSince > limit {
                connection.close()
            }
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
