import Foundation
import Glibc
import SkiffNet
import SkiffPOSIX

/// The client's side of one connection, on one event loop: the handshake (INFO, then CONNECT and a PING whose
/// PONG says the server took it), the server's operations, and the waiters for them. Loop thread only; the public
/// ``NATSClient`` hops onto the loop for every call.
final class NATSClientConnection: StreamHandler, @unchecked Sendable {
    let transport: StreamConnection
    let loop: EventLoop
    private let options: NATSClientOptions
    private var phase = Phase.waitingForInfo
    private var handshakeWaiter: CheckedContinuation<Void, any Error>?
    private var handshakeTimer: TimerHandle?
    private var pongWaiters: [CheckedContinuation<Void, any Error>] = []
    private var closeWaiters: [UInt64: CheckedContinuation<NATSClientError?, Never>] = [:]
    private var lastCloseWaiter: UInt64 = 0
    private var subscriptions: [UInt64: Registered] = [:]
    private var lastSID: UInt64 = 0
    private(set) var maxPayload = 1024 * 1024
    private(set) var failure: NATSClientError?

    enum Phase { case waitingForInfo, waitingForPong, ready, closed }

    struct Registered {
        var continuation: AsyncStream<NATSMessage>.Continuation
        var dropped: NATSSubscription.DropCounter
    }

    init(transport: StreamConnection, options: NATSClientOptions) {
        self.transport = transport
        self.loop = transport.loop
        self.options = options
    }

    /// Registers with the loop and waits for the handshake; the connect timeout covers the TCP connect too.
    func start() async throws {
        try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
            handshakeWaiter = waiter
            handshakeTimer = loop.scheduleTimer(afterNanoseconds: options.connectTimeout.nanoseconds) { [self] in
                fail(.timeout("no answer to the NATS handshake in \(options.connectTimeout)"))
            }
            do {
                try transport.start(handler: self)
            } catch {
                fail(.connect("\(error)"))
            }
        }
    }

    // MARK: Calls from the client

    func subscribe(_ subject: String, queue: String?) throws(NATSClientError) -> NATSSubscription {
        try ensureReady()
        lastSID += 1
        let sid = lastSID
        let (stream, continuation) = AsyncStream.makeStream(
            of: NATSMessage.self, bufferingPolicy: .bufferingOldest(max(options.pendingMessages, 1)))
        let dropped = NATSSubscription.DropCounter()
        subscriptions[sid] = Registered(continuation: continuation, dropped: dropped)
        var line = "SUB \(subject)"
        if let queue { line += " \(queue)" }
        write(Array("\(line) \(sid)\r\n".utf8))
        return NATSSubscription(sid: sid, subject: subject, messages: stream, dropped: dropped)
    }

    func unsubscribe(_ sid: UInt64) {
        guard let registered = subscriptions.removeValue(forKey: sid) else { return }
        registered.continuation.finish()
        if phase == .ready { write(Array("UNSUB \(sid)\r\n".utf8)) }
    }

    func publish(_ subject: String, reply: String?, headers: [NATSHeader], payload: [UInt8]) throws(NATSClientError) {
        try ensureReady()
        let block = headers.isEmpty ? [] : HeaderBlock.encode(headers)
        guard block.count + payload.count <= maxPayload else {
            throw .invalid("a message of \(block.count + payload.count) bytes, over the server's \(maxPayload)")
        }
        var line = headers.isEmpty ? "PUB \(subject)" : "HPUB \(subject)"
        if let reply { line += " \(reply)" }
        if !headers.isEmpty { line += " \(block.count)" }
        line += " \(block.count + payload.count)\r\n"
        var frame = Array(line.utf8)
        frame.reserveCapacity(frame.count + block.count + payload.count + 2)
        frame += block
        frame += payload
        frame += [0x0D, 0x0A]
        write(frame)
    }

    /// Sends a PING; `waiter` is resumed by its PONG, which the server sends after everything before it.
    func ping(_ waiter: CheckedContinuation<Void, any Error>) {
        do {
            try ensureReady()
        } catch {
            waiter.resume(throwing: error)
            return
        }
        pongWaiters.append(waiter)
        write(Array("PING\r\n".utf8))
    }

    /// Registers a wait for the close; returns its id (for ``stopWaiting(_:)``).
    func whenClosed(_ waiter: CheckedContinuation<NATSClientError?, Never>) -> UInt64 {
        lastCloseWaiter += 1
        if let failure {
            waiter.resume(returning: failure)
        } else {
            closeWaiters[lastCloseWaiter] = waiter
        }
        return lastCloseWaiter
    }

    /// The waiter's task was cancelled: it gets nil now, the connection stays as it is.
    func stopWaiting(_ id: UInt64) {
        closeWaiters.removeValue(forKey: id)?.resume(returning: nil)
    }

    private func ensureReady() throws(NATSClientError) {
        if let failure { throw failure }
        guard phase == .ready else { throw .closed("the connection is not ready") }
    }

    private func write(_ bytes: [UInt8]) {
        transport.out.bytes.append(contentsOf: bytes)
        transport.requestFlush()
    }

    // MARK: StreamHandler

    func process(_ input: UnsafeBufferPointer<UInt8>) -> Int {
        guard phase != .closed else { return input.count }
        let parsed: (operations: [ServerOperation], consumed: Int)
        do {
            parsed = try ServerParser.parse(input, maxPayload: maxPayload)
        } catch {
            fail(.protocolError(error.description))
            return input.count
        }
        for operation in parsed.operations where phase != .closed { handle(operation) }
        return parsed.consumed
    }

    private func handle(_ operation: ServerOperation) {
        switch operation {
        case .info(let json):
            guard phase == .waitingForInfo else { return }
            let info = (try? JSONSerialization.jsonObject(with: Data(json))) as? [String: Any]
            if let size = info?["max_payload"] as? Int, size > 0 { maxPayload = size }
            write(connectLine(headers: (info?["headers"] as? Bool) ?? false) + Array("PING\r\n".utf8))
            phase = .waitingForPong
        case .pong:
            if phase == .waitingForPong {
                phase = .ready
                if let handshakeTimer { loop.cancelTimer(handshakeTimer) }
                handshakeTimer = nil
                handshakeWaiter?.resume()
                handshakeWaiter = nil
            } else if !pongWaiters.isEmpty {
                pongWaiters.removeFirst().resume()
            }
        case .ping:
            write(Array("PONG\r\n".utf8))
        case .ok:
            break
        case .error(let text):
            // A permissions violation concerns one subject and leaves the connection open; every other -ERR is
            // followed by the server closing it.
            if phase == .ready && text.lowercased().hasPrefix("permissions violation") { return }
            fail(phase == .ready ? .closed("the server said: \(text)") : .rejected(text))
        case .message(let sid, let message):
            guard let registered = subscriptions[sid] else { return }
            if case .dropped = registered.continuation.yield(message) { registered.dropped.add() }
        }
    }

    private func connectLine(headers: Bool) -> [UInt8] {
        var fields: [String: Any] = [
            "verbose": false, "pedantic": false, "lang": "swift", "version": "skiff", "protocol": 1,
            "headers": headers, "no_responders": headers, "name": options.name,
        ]
        if let user = options.user { fields["user"] = user }
        if let password = options.password { fields["pass"] = password }
        if let token = options.token { fields["auth_token"] = token }
        let json = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Array("CONNECT ".utf8) + Array(json) + [0x0D, 0x0A]
    }

    func peerClosed() { fail(.closed("the server closed the connection")) }

    func readFailed(_ error: SystemError) { fail(.closed("reading: \(error)")) }

    func writeFailed(_ error: SystemError) { fail(.closed("writing: \(error)")) }

    func connectFinished(errno code: Int32) {
        if code != 0 { fail(.connect(String(cString: strerror(code)))) }
    }

    /// Closes the connection once: every waiter fails with `error`, every subscription ends.
    func fail(_ error: NATSClientError) {
        guard phase != .closed else { return }
        phase = .closed
        failure = error
        if let handshakeTimer { loop.cancelTimer(handshakeTimer) }
        handshakeTimer = nil
        transport.close(failingWritersWith: error)
        handshakeWaiter?.resume(throwing: error)
        handshakeWaiter = nil
        for waiter in pongWaiters { waiter.resume(throwing: error) }
        pongWaiters = []
        for registered in subscriptions.values { registered.continuation.finish() }
        subscriptions = [:]
        for waiter in closeWaiters.values { waiter.resume(returning: error) }
        closeWaiters = [:]
    }
}
