import SkiffNet
import SkiffPOSIX

/// One broker's state on one event loop: its client connections, the read buffer they share, the random
/// numbers queue groups draw from, and the sweep that runs their timers. Loop thread only.
final class NATSLoopContext: StreamServerContext, @unchecked Sendable {
    // @unchecked: created off-loop, then touched only on `loop` (every entry point runs there).
    let loop: EventLoop
    let server: NATSServer
    let readBuffer = ReadBuffer()
    var acceptor: StreamAcceptor?
    private(set) var connections: [ObjectIdentifier: ClientConnection] = [:]
    /// Connections that sent their -ERR and wait for the client to leave, with when they give up waiting.
    private var lingering: [ObjectIdentifier: (connection: ClientConnection, until: UInt64)] = [:]
    private var sweepTimer: TimerHandle?
    private var randomState: UInt64

    init(loop: EventLoop, server: NATSServer) {
        self.loop = loop
        self.server = server
        randomState = UInt64.random(in: 1...UInt64.max)
    }

    /// Takes over an accepted connection; the acceptor has counted it.
    func adopt(_ fd: Int32) {
        let id = server.nextClientID()
        guard let connection = startConnection(fd, { ClientConnection(transport: $0, context: self, id: id) }) else {
            return
        }
        connections[ObjectIdentifier(connection)] = connection
        server.register(connection.mailbox)
        connection.greet()
        if sweepTimer == nil { scheduleSweep() }
    }

    func closed(_ connection: ClientConnection) {
        let id = ObjectIdentifier(connection)
        guard connections.removeValue(forKey: id) != nil else { return }
        lingering[id] = nil
        server.unregister(connection)
        acceptor?.connectionClosed(on: loop)
    }

    /// The connection's -ERR is written: it closes when the client does, or after a second at most.
    func linger(_ connection: ClientConnection) {
        lingering[ObjectIdentifier(connection)] = (connection, loop.now &+ 1_000_000_000)
    }

    /// A number in `0..<bound` (xorshift: queue groups need spread, not secrecy).
    func random(below bound: Int) -> Int {
        randomState ^= randomState << 13
        randomState ^= randomState >> 7
        randomState ^= randomState << 17
        return Int(randomState % UInt64(bound))
    }

    private func scheduleSweep() {
        // Strong: the sweep stops once no connection is left.
        sweepTimer = loop.scheduleTimer(afterNanoseconds: server.sweepInterval.nanoseconds) { [self] in
            sweepTimer = nil
            sweep()
            if !connections.isEmpty { scheduleSweep() }
        }
    }

    private func sweep() {
        let now = loop.now
        for (connection, until) in lingering.values where now >= until { connection.close() }
        for connection in Array(connections.values) { connection.checkTimers(now: now) }
    }

    /// Lame-duck mode: every client is told the server is going.
    func announceLameDuck() {
        for connection in connections.values { connection.announceLameDuck() }
    }

    /// Shutdown: every connection closes now.
    func closeAll() {
        for connection in Array(connections.values) { connection.close() }
        acceptor = nil
    }

    /// What the monitor shows of each connection.
    func snapshots() -> [ConnectionSnapshot] {
        connections.values.map { connection in
            ConnectionSnapshot(
                cid: connection.mailbox.id, ip: connection.remoteAddress?.host ?? "",
                port: connection.remoteAddress?.port ?? 0,
                uptimeNanoseconds: loop.now &- connection.connectedAt, pendingBytes: connection.pendingBytes,
                inMsgs: connection.messagesIn, outMsgs: connection.mailbox.messagesOut.load(ordering: .relaxed),
                inBytes: connection.bytesIn, outBytes: connection.mailbox.bytesOut.load(ordering: .relaxed),
                subscriptions: connection.subscriptionCount, name: connection.name, lang: connection.lang,
                version: connection.version)
        }
    }
}
