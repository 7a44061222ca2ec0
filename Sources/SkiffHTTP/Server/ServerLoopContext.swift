import SkiffNet
import SkiffPOSIX

/// One server's state on one event loop: its connections, the read buffer they share, the cached Date line,
/// and the once-a-second sweep that enforces head, idle, body and write timeouts. Loop thread only.
final class ServerLoopContext: StreamServerContext, @unchecked Sendable {
    // @unchecked: created off-loop, then touched only on `loop` (every entry point runs there).
    let loop: EventLoop
    let configuration: HTTPServerConfiguration
    let responder: any HTTPResponder
    let server: HTTPServer
    let readBuffer = ReadBuffer()
    /// What accepted this loop's connections and counts them; set before accepting starts, dropped once every
    /// connection is closed (it holds the closure that holds this context).
    var acceptor: StreamAcceptor?
    private(set) var connections: [ObjectIdentifier: HTTPServerConnection] = [:]
    private(set) var isShuttingDown = false
    private var dateLine: [UInt8] = []
    private var dateSecond: UInt64 = .max
    private var sweepTimer: TimerHandle?
    let headTimeout: UInt64
    let idleTimeout: UInt64
    let lingerTimeout: UInt64
    let bodyTimeout: UInt64
    let writeTimeout: UInt64

    init(loop: EventLoop, configuration: HTTPServerConfiguration, responder: any HTTPResponder, server: HTTPServer) {
        self.loop = loop
        self.configuration = configuration
        self.responder = responder
        self.server = server
        headTimeout = configuration.headTimeout.nanoseconds
        idleTimeout = configuration.idleTimeout.nanoseconds
        lingerTimeout = configuration.lingerTimeout.nanoseconds
        bodyTimeout = configuration.bodyTimeout.nanoseconds
        writeTimeout = configuration.writeTimeout.nanoseconds
    }

    /// The `Date:` line, recomputed when the second changes.
    var currentDateLine: [UInt8] {
        let second = loop.now / 1_000_000_000
        if second != dateSecond {
            dateSecond = second
            dateLine = HTTPDate.headerLine(unixTime: HTTPDate.currentUnixTime())
        }
        return dateLine
    }

    /// Takes over an accepted connection; the acceptor has counted it.
    func adopt(_ fd: Int32) {
        guard let connection = startConnection(fd, { HTTPServerConnection(transport: $0, context: self) }) else {
            return
        }
        connections[ObjectIdentifier(connection)] = connection
        if sweepTimer == nil { scheduleSweep() }
    }

    func connectionClosed(_ connection: HTTPServerConnection) {
        if connections.removeValue(forKey: ObjectIdentifier(connection)) != nil {
            acceptor?.connectionClosed(on: loop)
        }
    }

    private func scheduleSweep() {
        // Strong (see ClientPool): the sweep stops once no connection is left.
        sweepTimer = loop.scheduleTimer(afterNanoseconds: 1_000_000_000) { [self] in
            self.sweepTimer = nil
            self.sweep()
            if !self.connections.isEmpty { self.scheduleSweep() }
        }
    }

    private func sweep() {
        let now = loop.now
        for connection in Array(connections.values) { connection.checkTimeouts(now: now) }
    }

    /// Stop keeping connections alive: idle ones close now, busy ones after their current response.
    func beginShutdown() {
        isShuttingDown = true
        for connection in Array(connections.values) { connection.closeIfIdle() }
    }

    func closeAll() {
        for connection in Array(connections.values) { connection.close() }
        acceptor = nil
    }
}
