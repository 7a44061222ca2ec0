import Foundation
import SkiffNet
import SkiffPOSIX
import SkiffStream
import Synchronization

/// A NATS-compatible broker on an event loop group: the client protocol (INFO, CONNECT, PUB, HPUB, SUB, UNSUB,
/// PING/PONG, MSG, HMSG, +OK/-ERR) with wildcards, queue groups, request/reply and no-responders, as
/// nats-server 2.9 speaks it. Each loop accepts from the shared listening sockets and hands each client to the
/// loop serving the fewest; a message crosses to another loop in one hop per batch.
///
/// Lifecycle as ``SkiffHTTP/HTTPServer``: ``start()`` binds, ``run()`` is the service entry point,
/// ``shutdown()`` closes every client.
public final class NATSServer: Sendable {
    public let configuration: NATSConfiguration
    let index = SubscriptionIndex()
    let serverID: String
    let slowConsumers = Atomic<Int>(0)
    /// Streams and their API, when the configuration names a directory for them.
    let jetStream: JetStream?
    private let group: EventLoopGroup
    private let lifecycle: StreamServer<NATSLoopContext>
    private let lastClientID = Atomic<UInt64>(0)
    private let startedAt = Date()
    private let closedTotals = Mutex(Totals())
    private let totalConnections = Atomic<Int>(0)

    struct Totals {
        var inMsgs = 0
        var outMsgs = 0
        var inBytes = 0
        var outBytes = 0
    }

    public init(configuration: NATSConfiguration, group: EventLoopGroup) {
        self.configuration = configuration
        self.group = group
        serverID = Self.makeServerID()
        lifecycle = StreamServer(group: group)
        jetStream = configuration.jetStreamDirectory.map { JetStream(directory: $0) }
        jetStream?.server = self
    }

    /// The bound addresses (the real port when 0 was asked for). Empty before ``start()``.
    public var localAddresses: [SocketAddress] { lifecycle.running?.acceptor.localAddresses ?? [] }

    /// Open client connections.
    public var connectionCount: Int { lifecycle.running?.acceptor.connectionCount ?? 0 }

    private var contexts: [NATSLoopContext] { lifecycle.running?.contexts ?? [] }

    /// Binds every configured address and starts accepting. Returns the bound addresses.
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        try jetStream?.open()
        jetStream?.startTimers(on: group.next())
        return try await lifecycle.start(
            .init(
                addresses: configuration.addresses, maxConnections: configuration.maxConnections, refusal: refusal,
                pauseReporter: configuration.acceptPauseReporter)
        ) { NATSLoopContext(loop: $0, server: self) }
    }

    /// The JetStream stream `configuration` names (created when missing), shared with this broker's clients; nil
    /// when JetStream is off. After ``start()``, which opens the streams kept on disk.
    public func stream(_ configuration: StreamConfiguration) throws -> MessageStream? {
        try jetStream?.stream(configuration)
    }

    /// The service entry point: runs until the calling task is cancelled, then closes every client.
    public func run() async throws {
        try await lifecycle.runUntilCancelled(start: { try await start() }, shutdown: { await shutdown() })
    }

    /// Stops accepting and closes every client connection. With a lame-duck grace period, clients are first told
    /// (an INFO with `"ldm": true`, on which they reconnect elsewhere or later) and closed when it has passed.
    public func shutdown(lameDuckGracePeriod: Duration? = nil) async {
        jetStream?.stopTimers()
        guard let (_, contexts) = await lifecycle.stop() else { return }
        if let lameDuckGracePeriod {
            for context in contexts {
                try? await context.loop.submit { context.announceLameDuck() }
            }
            try? await Task.sleep(for: lameDuckGracePeriod)
        }
        for context in contexts {
            try? await context.loop.submit { context.closeAll() }
        }
    }

    /// The id INFO carries (56 characters, like nats-server's).
    public var serverIdentifier: String { serverID }

    /// Serves an already-connected socket as an accepted client (one end of a socketpair in tests).
    @discardableResult
    public func serveConnected(_ fd: Int32) -> Bool { lifecycle.serveConnected(fd) }

    // MARK: For connections

    var authorizationRequired: Bool { configuration.authorization != nil }

    /// How often each loop looks at its clients' timers: often enough for the shortest of them.
    var sweepInterval: Duration {
        min(.milliseconds(250), configuration.pingInterval / 4, configuration.authTimeout / 4)
    }

    func nextClientID() -> UInt64 { lastClientID.wrappingAdd(1, ordering: .relaxed).newValue }

    func authorizes(_ options: ConnectOptions) -> Bool {
        switch configuration.authorization {
        case nil: return true
        case .token(let token): return Self.equalInConstantTime(options.token, token)
        case .user(let user, let password):
            return Self.equalInConstantTime(options.user, user) && Self.equalInConstantTime(options.password, password)
        }
    }

    func info(for connection: ClientConnection, lameDuck: Bool = false) -> ServerInfo {
        let local = try? Socket.localAddress(connection.transport.fd)
        var info = ServerInfo(
            serverID: serverID, serverName: configuration.serverName, version: configuration.version,
            go: "skiff (swift)", host: local?.host ?? "0.0.0.0", port: local?.port ?? 0,
            maxPayload: configuration.maxPayload, authRequired: authorizationRequired ? true : nil,
            clientID: connection.mailbox.id, clientIP: connection.remoteAddress?.host)
        if lameDuck { info.ldm = true }
        if jetStream != nil { info.jetstream = true }
        return info
    }

    func register(_ mailbox: ClientMailbox) {
        totalConnections.add(1, ordering: .relaxed)
    }

    func unregister(_ connection: ClientConnection) {
        closedTotals.withLock { totals in
            totals.inMsgs += connection.messagesIn
            totals.inBytes += connection.bytesIn
            totals.outMsgs += connection.mailbox.messagesOut.load(ordering: .relaxed)
            totals.outBytes += connection.mailbox.bytesOut.load(ordering: .relaxed)
        }
    }

    /// `-ERR 'maximum connections exceeded'` right after an INFO, as nats-server answers past its limit.
    private var refusal: [UInt8] {
        let info = ServerInfo(
            serverID: serverID, serverName: configuration.serverName, version: configuration.version,
            go: "skiff (swift)", host: configuration.addresses.first?.host ?? "0.0.0.0",
            port: configuration.addresses.first?.port ?? 0, maxPayload: configuration.maxPayload)
        return info.line() + MessageFrame.error("maximum connections exceeded")
    }

    /// A message from the broker itself (an API answer, a publish acknowledgement) to whoever subscribes to
    /// `subject`: each plain subscription and one member of each queue group. Any thread.
    ///
    /// `shown` is the subject the MSG line carries when it is not the one routed on (a pulled message travels to
    /// the puller's inbox under its own subject), `reply` its reply subject (the delivery's ack subject).
    func deliverFromServer(
        subject: [UInt8], headers: [UInt8]? = nil, payload: [UInt8], as shown: [UInt8]? = nil, reply: [UInt8]? = nil
    ) {
        let message = (headers ?? []) + payload
        let match = subject.withUnsafeBufferPointer { index.match($0) }
        (shown ?? subject).withUnsafeBufferPointer { subjectBytes in
            message.withUnsafeBufferPointer { messageBytes in
                func send(_ subscription: Subscription) -> Bool {
                    switch subscription.takeDelivery() {
                    case .skip: return false
                    case .deliver: break
                    case .deliverAndRemove:
                        subscription.markRemoved()
                        index.remove(subscription)
                    }
                    var frame: [UInt8] = []
                    let takesHeaders = subscription.mailbox.takesHeaders.load(ordering: .relaxed)
                    if let reply {
                        reply.withUnsafeBufferPointer { replyBytes in
                            MessageFrame.append(
                                to: &frame, subject: subjectBytes, sid: subscription.sid, reply: replyBytes,
                                headerLength: headers?.count, message: messageBytes,
                                subscriberTakesHeaders: takesHeaders)
                        }
                    } else {
                        MessageFrame.append(
                            to: &frame, subject: subjectBytes, sid: subscription.sid, reply: nil,
                            headerLength: headers?.count, message: messageBytes, subscriberTakesHeaders: takesHeaders)
                    }
                    subscription.mailbox.enqueue(frame, messages: 1)
                    return true
                }
                for subscription in match.plain { _ = send(subscription) }
                for group in match.groups {
                    let start = Int.random(in: 0..<group.count)
                    for offset in 0..<group.count where send(group[(start + offset) % group.count]) { break }
                }
            }
        }
    }

    // MARK: Monitoring

    /// Every open connection, as `/connz` lists them.
    public func connections() async -> [ConnectionSnapshot] {
        var all: [ConnectionSnapshot] = []
        for context in contexts {
            all += (try? await context.loop.submit { context.snapshots() }) ?? []
        }
        return all.sorted { $0.cid < $1.cid }
    }

    /// The server's counters, as `/varz` shows them.
    public func statistics() async -> ServerStatistics {
        let open = await connections()
        let closed = closedTotals.withLock { $0 }
        return ServerStatistics(
            serverID: serverID, serverName: configuration.serverName, version: configuration.version,
            host: configuration.addresses.first?.host ?? "", port: localAddresses.first?.port ?? 0,
            maxPayload: configuration.maxPayload, maxConnections: configuration.maxConnections, start: startedAt,
            connections: open.count, totalConnections: totalConnections.load(ordering: .relaxed),
            inMsgs: closed.inMsgs + open.reduce(0) { $0 + $1.inMsgs },
            outMsgs: closed.outMsgs + open.reduce(0) { $0 + $1.outMsgs },
            inBytes: closed.inBytes + open.reduce(0) { $0 + $1.inBytes },
            outBytes: closed.outBytes + open.reduce(0) { $0 + $1.outBytes },
            slowConsumers: slowConsumers.load(ordering: .relaxed), subscriptions: index.count)
    }

    // MARK: Helpers

    private static func equalInConstantTime(_ given: String?, _ expected: String) -> Bool {
        let a = Array((given ?? "").utf8)
        let b = Array(expected.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0 && given != nil
    }

    /// 56 characters of A–Z and 2–7, like nats-server's public-key-shaped ids, starting with `N`.
    private static func makeServerID() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        return "N" + String((0..<55).map { _ in alphabet[Int.random(in: 0..<alphabet.count)] })
    }
}
