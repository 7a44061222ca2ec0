import SkiffNet
import SkiffPOSIX

/// One client's connection: parses what it sends, keeps its subscriptions, publishes its messages to the
/// subscribers they match, and writes what is delivered to it. Loop thread only (its ``ClientMailbox`` is what
/// other loops touch).
final class ClientConnection: StreamHandler {
    let transport: StreamConnection
    let context: NATSLoopContext
    let mailbox: ClientMailbox
    var server: NATSServer { context.server }
    var loop: EventLoop { transport.loop }
    private var parser: ClientParser
    private(set) var options = ConnectOptions()
    /// CONNECT has been accepted (with valid credentials when they are required).
    private var isConnected = false
    var subscriptions: [[UInt8]: Subscription] = [:]
    /// Frames for clients on other loops, gathered while one batch of input is processed and handed to each
    /// client's mailbox once at its end: one lock and one loop hop per client and batch, not per message.
    var outgoing: [ObjectIdentifier: Outgoing] = [:]
    /// The last subject published and what it matched, while the index has not changed: a client publishing to
    /// the same subject again and again (a sensor, a stream) skips the index.
    var lastMatch: (subject: [UInt8], generation: UInt64, match: SubscriptionIndex.Match)?

    struct Outgoing {
        let mailbox: ClientMailbox
        var frames: [UInt8]
        var messages: Int
    }
    private(set) var phase = Phase.open
    let connectedAt: UInt64
    /// When the client last sent anything (loop time): a quiet client is pinged.
    private var lastInput: UInt64
    private var nextPing: UInt64
    private var pingsOut = 0
    /// A PONG has answered one of the server's PINGs: the client is known to be alive and responsive.
    private var hasAnsweredPing = false
    var messagesIn = 0
    var bytesIn = 0
    let remoteAddress: SocketAddress?

    enum Phase {
        case open
        /// An -ERR is on its way; once written, the connection lingers (discarding input) and closes.
        case closing
        case closed
    }

    init(transport: StreamConnection, context: NATSLoopContext, id: UInt64) {
        self.transport = transport
        self.context = context
        let configuration = context.server.configuration
        mailbox = ClientMailbox(id: id, loop: transport.loop, maxPending: configuration.maxPending)
        parser = ClientParser(maxControlLine: configuration.maxControlLine, maxPayload: configuration.maxPayload)
        connectedAt = transport.loop.now
        lastInput = connectedAt
        nextPing = connectedAt &+ configuration.pingInterval.nanoseconds
        remoteAddress = transport.peerAddress
        mailbox.connection = self
    }

    /// Sends INFO, the first thing a client reads.
    func greet() {
        transport.out.bytes.append(contentsOf: server.info(for: self).line())
        transport.requestFlush()
    }

    /// An INFO with `"ldm": true`: the server is about to close the connection. Clients that announced protocol
    /// 1 read INFOs at any time; never between CONNECT and the first PONG, which a handshake waits for.
    func announceLameDuck() {
        guard phase == .open, isConnected || !server.authorizationRequired else { return }
        send(server.info(for: self, lameDuck: true).line())
    }

    var subscriptionCount: Int { subscriptions.count }
    var name: String? { options.name }
    var lang: String? { options.lang }
    var version: String? { options.version }
    var pendingBytes: Int { transport.out.unsentCount }

    // MARK: StreamHandler

    func process(_ input: UnsafeBufferPointer<UInt8>) -> Int {
        guard phase == .open else { return input.count }
        lastInput = loop.now
        var consumed = 0
        while phase == .open && consumed < input.count {
            let rest = UnsafeBufferPointer(rebasing: input[consumed...])
            do {
                guard let parsed = try parser.parse(rest) else { break }
                consumed += parsed.consumed
                handle(parsed.operation)
            } catch {
                handOffOutgoing()
                violate(error)
                return input.count
            }
        }
        handOffOutgoing()
        return consumed
    }

    private func handOffOutgoing() {
        guard !outgoing.isEmpty else { return }
        for batch in outgoing.values { batch.mailbox.enqueue(batch.frames, messages: batch.messages) }
        outgoing.removeAll(keepingCapacity: true)
    }

    func bytesArriving() -> Bool { phase == .open }
    var keepsLeftover: Bool { phase == .open }
    func peerClosed() { close() }
    func readFailed(_ error: SystemError) { close() }
    func writeFailed(_ error: SystemError) { close() }

    func outputDrained() {
        if phase == .closing {
            // The -ERR is out. Closing with unread input would send a reset that can destroy it before the
            // client reads it, so the connection stops sending and waits a moment for the client to go.
            transport.shutdownWrite()
            context.linger(self)
        }
    }

    // MARK: Operations

    private func handle(_ operation: ClientOperation) {
        if server.authorizationRequired && !isConnected {
            guard case .connect(let json) = operation else {
                fail("Authorization Violation")
                return
            }
            connect(json)
            return
        }
        switch operation {
        case .connect(let json): connect(json)
        case .publish(let subject, let reply, let headerLength, let message):
            publish(subject: subject, reply: reply, headerLength: headerLength, message: message)
        case .subscribe(let subject, let queue, let sid): subscribe(subject: subject, queue: queue, sid: sid)
        case .unsubscribe(let sid, let max): unsubscribe(sid: sid, max: max)
        case .ping:
            if let queued = mailbox.takeQueued() {
                if queued.overLimit {
                    closeAsSlowConsumer()
                    return
                }
                deliverQueued(queued.bytes)
            }
            send(MessageFrame.pong)
        case .pong:
            pingsOut = 0
            hasAnsweredPing = true
        case .ok: break
        case .error: close()
        case .info(let json):
            if !ConnectOptions.isJSONObject(json) { close() }
        }
    }

    private func connect(_ json: UnsafeBufferPointer<UInt8>) {
        guard let requested = ConnectOptions(json: json) else {
            close()
            return
        }
        guard requested.protocolVersion == 0 || requested.protocolVersion == 1 else {
            fail("invalid client protocol")
            return
        }
        if requested.noResponders && !requested.headers {
            fail("no responders requires headers support")
            return
        }
        guard server.authorizes(requested) else {
            fail("Authorization Violation")
            return
        }
        options = requested
        isConnected = true
        mailbox.echo.store(requested.echo, ordering: .relaxed)
        mailbox.takesHeaders.store(requested.headers, ordering: .relaxed)
        acknowledge()
    }

    private func subscribe(
        subject: UnsafeBufferPointer<UInt8>, queue: UnsafeBufferPointer<UInt8>?, sid: UnsafeBufferPointer<UInt8>
    ) {
        guard Subject.isValidSubscription(subject), queue.map({ Subject.isValidLiteral($0) }) ?? true else {
            // Not fatal on nats-server; nats.py closes on any -ERR it does not know, which is the client's choice.
            send(MessageFrame.error("Invalid Subject"))
            return
        }
        let key = Array(sid)
        if let existing = subscriptions[key], !existing.isRemoved {
            // A sid in use: the new SUB is ignored, as nats-server does.
            acknowledge()
            return
        }
        let limit = server.configuration.maxSubscriptions
        if limit > 0 && subscriptions.count >= limit {
            send(MessageFrame.error("maximum subscriptions exceeded"))
            return
        }
        let subscription = Subscription(
            mailbox: mailbox, subject: Array(subject), queue: queue.map { Array($0) }, sid: key)
        subscriptions[key] = subscription
        server.index.insert(subscription)
        acknowledge()
    }

    private func unsubscribe(sid: UnsafeBufferPointer<UInt8>, max: Int?) {
        let key = Array(sid)
        if let subscription = subscriptions[key] {
            if let max, max > 0, !subscription.limit(to: max) {
                // Goes away by itself after `max` deliveries in all.
            } else {
                subscriptions[key] = nil
                subscription.markRemoved()
                server.index.remove(subscription)
            }
        }
        acknowledge()
    }

    // MARK: Output

    func acknowledge() {
        if options.verbose { send(MessageFrame.ok) }
    }

    func send(_ bytes: [UInt8]) {
        transport.out.bytes.append(contentsOf: bytes)
        outputQueued()
    }

    /// Bytes were appended to the output: flushed at the end of this tick, unless the client is too far behind.
    func outputQueued() {
        guard phase != .closed else { return }
        if transport.out.unsentCount > server.configuration.maxPending {
            closeAsSlowConsumer()
            return
        }
        transport.requestFlush()
    }

    /// On this loop, from publishers on other loops.
    func deliverQueued(_ bytes: [UInt8]) {
        guard phase == .open || phase == .closing else { return }
        if transport.out.isEmpty && transport.out.bytes.isEmpty {
            transport.out.bytes = bytes
        } else {
            transport.out.bytes.append(contentsOf: bytes)
        }
        outputQueued()
    }

    /// Takes none of its output for too long, or too much of it waits: closed without a word (nats-server sends
    /// nothing either; the connection is not read any more).
    func closeAsSlowConsumer() {
        server.slowConsumers.add(1, ordering: .relaxed)
        close()
    }

    // MARK: Timers

    /// Called by the loop's sweep: the auth deadline, the server's pings, the write deadline.
    func checkTimers(now: UInt64) {
        guard phase == .open else { return }
        let configuration = server.configuration
        if server.authorizationRequired && !isConnected
            && now &- connectedAt >= configuration.authTimeout.nanoseconds
        {
            fail("Authentication Timeout")
            return
        }
        // Measured from the first flush that found output waiting: output queued in this tick (a new client's
        // INFO) has not been offered to the socket yet, and cannot have stalled.
        if !transport.outputWasDrained && now &- transport.lastWriteProgress >= configuration.writeDeadline.nanoseconds
        {
            closeAsSlowConsumer()
            return
        }
        guard now >= nextPing else { return }
        let interval = configuration.pingInterval.nanoseconds
        nextPing = now &+ interval
        // A client heard from within the interval, and known to answer pings, need not be asked.
        if hasAnsweredPing && now &- lastInput < interval { return }
        if pingsOut + 1 > configuration.maxPingsOut {
            fail("Stale Connection")
            return
        }
        pingsOut += 1
        send(MessageFrame.ping)
    }

    // MARK: Closing

    private func violate(_ violation: ProtocolViolation) {
        if let text = violation.errorText { fail(text) } else { close() }
    }

    /// Sends `-ERR '<text>'`, then closes once it is written.
    func fail(_ text: String) {
        guard phase == .open else { return }
        transport.out.bytes.append(contentsOf: MessageFrame.error(text))
        phase = .closing
        removeSubscriptions()
        transport.requestFlush()
    }

    /// Closes now; idempotent.
    func close() {
        guard phase != .closed else { return }
        phase = .closed
        removeSubscriptions()
        mailbox.close()
        mailbox.connection = nil
        transport.close(failingWritersWith: CancellationError())
        context.closed(self)
    }

    private func removeSubscriptions() {
        for subscription in subscriptions.values {
            subscription.markRemoved()
            server.index.remove(subscription)
        }
        subscriptions = [:]
    }
}
