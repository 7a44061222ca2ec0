import Glibc
import SkiffNet
import SkiffPOSIX
import Synchronization

/// How a client introduces itself to the server.
public struct NATSClientOptions: Sendable {
    public var user: String?
    public var password: String?
    public var token: String?
    /// Shown by the server's monitoring (`/connz`).
    public var name = "skiff"
    /// For the TCP connect and the handshake together.
    public var connectTimeout: Duration = .seconds(10)
    /// Messages a subscription holds for a consumer that is behind; past it they are dropped and counted, as a
    /// NATS client's pending limit does, so a flood cannot exhaust memory.
    public var pendingMessages = 65_536

    public init() {}
}

public enum NATSClientError: Error, Equatable, CustomStringConvertible {
    /// The TCP connect failed (refused, unreachable).
    case connect(String)
    /// The server refused the CONNECT (`-ERR 'Authorization Violation'`).
    case rejected(String)
    case timeout(String)
    /// The connection is gone: the server closed it, or it failed.
    case closed(String)
    case protocolError(String)
    /// A subject, header or payload the protocol cannot carry; nothing was sent.
    case invalid(String)

    public var description: String {
        switch self {
        case .connect(let text): return "cannot connect to the NATS server: \(text)"
        case .rejected(let text): return "the NATS server refused the connection: \(text) (check the credentials)"
        case .timeout(let text): return text
        case .closed(let text): return "the NATS connection closed: \(text)"
        case .protocolError(let text): return "the NATS server sent \(text); the connection was closed"
        case .invalid(let text): return "not sent: \(text)"
        }
    }
}

/// A NATS client on Skiff's event loops: publish (with headers), subscribe (with queue groups), flush, for the
/// daemon's own services (subject triggers, replies). One connection, no reconnection of its own: a service that
/// needs one waits for ``closed()`` and connects again, re-subscribing as it sees fit.
public final class NATSClient: Sendable {
    private let connection: NATSClientConnection
    private let readBuffer: ReadBufferBox
    public var loop: EventLoop { connection.loop }

    private init(connection: NATSClientConnection, readBuffer: ReadBufferBox) {
        self.connection = connection
        self.readBuffer = readBuffer
    }

    /// Connects over TCP and completes the handshake.
    public static func connect(
        to address: SocketAddress, options: NATSClientOptions = NATSClientOptions(), loop: EventLoop
    ) async throws -> NATSClient {
        let buffer = ReadBufferBox()
        let connection = try await loop.submit {
            let transport = try StreamConnection.connect(
                to: address, networkNamespace: nil, loop: loop, readBuffer: buffer.buffer)
            return NATSClientConnection(transport: transport, options: options)
        }
        return try await start(connection, buffer)
    }

    /// Speaks NATS over an already-connected, non-blocking socket, which it owns from now on (one end of a
    /// socketpair whose other end a broker in the same process serves).
    public static func adopt(
        socket fd: Int32, options: NATSClientOptions = NATSClientOptions(), loop: EventLoop
    ) async throws -> NATSClient {
        let buffer = ReadBufferBox()
        let connection = NATSClientConnection(
            transport: StreamConnection(fd: fd, loop: loop, readBuffer: buffer.buffer), options: options)
        return try await start(connection, buffer)
    }

    private static func start(_ connection: NATSClientConnection, _ buffer: ReadBufferBox) async throws -> NATSClient {
        try await connection.loop.onLoop { try await connection.start() }
        return NATSClient(connection: connection, readBuffer: buffer)
    }

    /// Messages on `subject` (wildcards allowed); with a queue group, each message goes to one member of it.
    public func subscribe(_ subject: String, queue: String? = nil) async throws -> NATSSubscription {
        try Self.checkSubject(subject, wildcards: true)
        if let queue { try Self.checkToken(queue, what: "queue group") }
        let connection = self.connection
        return try await loop.submit { try connection.subscribe(subject, queue: queue) }
    }

    public func unsubscribe(_ subscription: NATSSubscription) async {
        let connection = self.connection
        _ = try? await loop.submit { connection.unsubscribe(subscription.sid) }
    }

    /// Queues the message for the server; ``flush()`` waits until the server has it.
    public func publish(
        _ subject: String, reply: String? = nil, headers: [NATSHeader] = [], payload: [UInt8]
    ) async throws {
        try Self.checkSubject(subject, wildcards: false)
        if let reply { try Self.checkSubject(reply, wildcards: false) }
        for header in headers {
            guard !header.name.isEmpty, !header.name.utf8.contains(where: { $0 <= 0x20 || $0 == 0x3A || $0 >= 0x7F }),
                !header.value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A })
            else { throw NATSClientError.invalid("the header \(header.name.debugDescription)") }
        }
        let connection = self.connection
        try await loop.submit { try connection.publish(subject, reply: reply, headers: headers, payload: payload) }
    }

    /// Publishes to `subject` with a fresh inbox as its reply subject and returns the first answer; nil when none
    /// came within `timeout`. A request nobody subscribes to is answered at once by the server with status 503
    /// (no responders), which is returned like any answer.
    public func request(
        _ subject: String, headers: [NATSHeader] = [], payload: [UInt8], timeout: Duration
    ) async throws -> NATSMessage? {
        let inbox = "_INBOX." + String((0..<22).map { _ in Self.inboxAlphabet.randomElement() ?? "x" })
        let answers = try await subscribe(inbox)
        defer { Task { await self.unsubscribe(answers) } }
        try await publish(subject, reply: inbox, headers: headers, payload: payload)
        return await first(within: timeout) {
            for await answer in answers { return answer }
            return nil
        }
    }

    private static let inboxAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    /// Returns once the server has processed everything sent before (a PING answered by its PONG).
    public func flush() async throws {
        let connection = self.connection
        try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
            connection.loop.execute { connection.ping(waiter) }
        }
    }

    /// Waits until the connection closes, and says why; nil when the waiting task is cancelled first (the
    /// connection is then left open).
    public func closed() async -> NATSClientError? {
        let connection = self.connection
        let wait = Mutex<(id: UInt64?, cancelled: Bool)>((nil, false))
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: CheckedContinuation<NATSClientError?, Never>) in
                connection.loop.execute {
                    let id = connection.whenClosed(waiter)
                    // A cancellation that came before the registration is carried out now.
                    let cancelled = wait.withLock { wait in
                        wait.id = id
                        return wait.cancelled
                    }
                    if cancelled { connection.stopWaiting(id) }
                }
            }
        } onCancel: {
            let id = wait.withLock { wait in
                wait.cancelled = true
                return wait.id
            }
            if let id { connection.loop.execute { connection.stopWaiting(id) } }
        }
    }

    public func close() async {
        let connection = self.connection
        _ = try? await loop.submit { connection.fail(.closed("closed by this client")) }
    }

    /// Subjects are dot-separated tokens of printable bytes; `*` and `>` only when subscribing.
    public static func checkSubject(_ subject: String, wildcards: Bool) throws(NATSClientError) {
        let tokens = subject.split(separator: ".", omittingEmptySubsequences: false)
        guard !subject.isEmpty, subject.utf8.count <= 4096, tokens.allSatisfy({ !$0.isEmpty }),
            !subject.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F })
        else { throw .invalid("the subject \(subject.debugDescription)") }
        if !wildcards && tokens.contains(where: { $0 == "*" || $0 == ">" }) {
            throw .invalid("the subject \(subject.debugDescription) (no wildcards when publishing)")
        }
        if let index = tokens.firstIndex(of: ">"), index != tokens.count - 1 {
            throw .invalid("the subject \(subject.debugDescription) ('>' must be last)")
        }
    }

    static func checkToken(_ token: String, what: String) throws(NATSClientError) {
        guard !token.isEmpty, !token.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
            throw .invalid("the \(what) \(token.debugDescription)")
        }
    }
}

/// A subscription's messages, in order, until it is unsubscribed or the connection closes.
public struct NATSSubscription: AsyncSequence, Sendable {
    public typealias Element = NATSMessage
    public let sid: UInt64
    public let subject: String
    let messages: AsyncStream<NATSMessage>
    let droppedCounter: DropCounter

    init(sid: UInt64, subject: String, messages: AsyncStream<NATSMessage>, dropped: DropCounter) {
        self.sid = sid
        self.subject = subject
        self.messages = messages
        self.droppedCounter = dropped
    }

    /// Messages dropped because the consumer was behind by ``NATSClientOptions/pendingMessages``.
    public var dropped: Int { droppedCounter.count.load(ordering: .relaxed) }

    public func makeAsyncIterator() -> AsyncStream<NATSMessage>.Iterator { messages.makeAsyncIterator() }

    final class DropCounter: Sendable {
        let count = Atomic<Int>(0)
        func add() { count.add(1, ordering: .relaxed) }
    }
}

/// The connection's own read buffer, kept alive as long as the client (the loop's connections read into it).
final class ReadBufferBox: @unchecked Sendable {
    let buffer = ReadBuffer()
}
