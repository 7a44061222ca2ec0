import Glibc
import SkiffNet
import SkiffPOSIX

/// One client TCP connection: connects, sends one request at a time, parses the response, and goes back to its
/// pool when both sides of the exchange are complete and the server keeps the connection alive.
final class HTTPClientConnection: HTTPStreamHandler, ByteStreamSource, @unchecked Sendable {
    // @unchecked: confined to `pool.loop`; every entry point is called on the loop.
    let transport: StreamConnection
    var parser = HTTPParser(kind: .response, maxHeadBytes: 1024 * 1024)
    var loop: EventLoop { transport.loop }
    let key: ClientPool.Key
    /// Strong: the loop may deliver events after the client is released; the idle sweep still closes us.
    let pool: ClientPool

    private enum State { case connecting, active, idle, closed }

    private var state = State.connecting
    private var connectWaiter: UnsafeContinuation<Void, any Error>?
    private var headWaiter: UnsafeContinuation<HTTPClientResponse, any Error>?
    private var received: HTTPClientResponse?
    private var responseStream: ByteStream?
    private var isRequestSent = false
    /// An error answer arrived before the body was sent: stop sending it.
    private var isUploadRefused = false
    private var isResponseComplete = false
    private var keepAlive = true
    private var failure: HTTPClientError?
    private var timer: TimerHandle?
    private(set) var idleSince: UInt64 = 0
    /// True while no byte of a response to the current request has arrived.
    private(set) var failedBeforeResponse = true

    private init(transport: StreamConnection, key: ClientPool.Key, pool: ClientPool) {
        self.transport = transport
        self.key = key
        self.pool = pool
    }

    var isUsable: Bool { state == .idle }

    // MARK: Connecting

    static func connect(
        _ key: ClientPool.Key, pool: ClientPool, timeout: Duration, deadline: UInt64?
    ) async throws -> HTTPClientConnection {
        let transport: StreamConnection
        do {
            transport = try StreamConnection.connect(
                to: key.address, networkNamespace: key.networkNamespace, loop: pool.loop, readBuffer: pool.readBuffer)
        } catch {
            // Only opening the namespace's file fails with ENOENT: socket() and a TCP connect() never do.
            if let path = key.networkNamespace, error.errno == ENOENT {
                throw HTTPClientError.noSuchNetworkNamespace(path)
            }
            throw connectError(error.errno, address: key.description)
        }
        let connection = HTTPClientConnection(transport: transport, key: key, pool: pool)
        do {
            try transport.start(handler: connection)
        } catch {
            throw HTTPClientError.system("\(error)")
        }
        guard transport.isConnecting else {
            connection.state = .active
            return connection
        }
        var limit = timeout.nanoseconds
        if let deadline { limit = min(limit, deadline &- min(deadline, monotonicNanoseconds())) }
        // Strong captures throughout: a weak reference would give the connection a refcount side table, and every
        // retain and release of it would then take the slow path (measured: ~6 % of the proxy's CPU). Timers are
        // cancelled when the exchange ends or the connection closes, which releases the closure.
        connection.timer = pool.loop.scheduleTimer(afterNanoseconds: limit) {
            connection.fail(.connectTimeout(address: key.description))
        }
        try await withUnsafeThrowingContinuation { connection.connectWaiter = $0 }
        return connection
    }

    /// A failed connect, whether `connect` said so at once or the socket reported it later.
    private static func connectError(_ code: Int32, address: String) -> HTTPClientError {
        switch code {
        case ECONNREFUSED: return .connectionRefused(address: address)
        case ETIMEDOUT: return .connectTimeout(address: address)
        default: return .system("connecting to \(address): \(SystemError(call: "connect", errno: code))")
        }
    }

    /// A failed read or write on an established connection.
    private static func transferError(_ error: SystemError) -> HTTPClientError {
        error.errno == ECONNRESET || error.errno == EPIPE ? .connectionReset : .system("\(error)")
    }

    private func cancelTimer() {
        if let timer { loop.cancelTimer(timer) }
        timer = nil
    }

    func connectFinished(errno code: Int32) {
        cancelTimer()
        guard code == 0 else {
            fail(Self.connectError(code, address: key.description))
            return
        }
        state = .active
        if let waiter = connectWaiter {
            connectWaiter = nil
            waiter.resume()
        }
    }

    // MARK: Sending

    func send(_ request: HTTPClientRequest, deadline: UInt64?) async throws -> HTTPClientResponse {
        state = .active
        failedBeforeResponse = true
        isRequestSent = false
        isUploadRefused = false
        isResponseComplete = false
        keepAlive = true
        received = nil
        parser.reset()
        parser.expectsNoBody = request.method == .head
        if let deadline {
            let remaining = deadline &- min(deadline, monotonicNanoseconds())
            timer = loop.scheduleTimer(afterNanoseconds: remaining) { [self] in fail(.requestTimeout) }
        }

        let body = request.body
        let length: Int?
        if case .bytes(let bytes) = body.storage { length = bytes.count } else { length = body.declaredLength }
        let chunked = length == nil
        writeHead(request, length: length, chunked: chunked)
        switch body.storage {
        case .bytes(let bytes):
            transport.out.bytes.append(contentsOf: bytes)
            transport.requestFlush()
            isRequestSent = true
        case .stream, .producer:
            transport.flushOutput()
            // The body goes transport.out on a task of its own (on this loop), so that an answer the server gives before
            // it has read everything (a CGI script prints its headers first) reaches the caller while the
            // upload continues; waiting for the upload first would deadlock against such a server.
            Task(executorPreference: loop) { await self.upload(body, chunked: chunked) }
        }
        if let response = received {
            received = nil
            return response
        }
        if let failure { throw failure }
        return try await withUnsafeThrowingContinuation { headWaiter = $0 }
    }

    private func upload(_ body: HTTPBody, chunked: Bool) async {
        do {
            for try await chunk in body {
                try await writeBodyChunk(chunk, chunked: chunked)
            }
            if chunked { transport.out.bytes.append(contentsOf: WireEncoding.lastChunk) }
            transport.requestFlush()
            if failure == nil, state == .active {
                isRequestSent = true
                recycleIfDone()
            }
        } catch is ResponseArrivedEarly {
            // The server refused the body (an error answer such as 413); its answer is on its way to the caller,
            // and the connection, whose request framing is now incomplete, is not reused.
            keepAlive = false
            if isResponseComplete { close() }
        } catch let error as HTTPClientError {
            fail(error)
        } catch {
            // The body source failed (the client upstream of a proxy went away): abandon this exchange.
            fail(.remoteClosed)
        }
    }

    private func writeHead(_ request: HTTPClientRequest, length: Int?, chunked: Bool) {
        transport.out.bytes.append(contentsOf: request.method.rawValue.utf8)
        transport.out.bytes.append(0x20)
        transport.out.bytes.append(contentsOf: request.target.utf8)
        transport.out.bytes.append(contentsOf: " HTTP/1.1\r\n".utf8)
        var headers = request.headers
        let flags = WireEncoding.scan(headers)
        // Framing is ours to write; edits copy the header storage, so only when needed.
        var hasLength = flags.hasContentLength
        if hasLength && length == nil {
            headers.remove(name: "content-length")
            hasLength = false
        }
        if flags.hasTransferEncoding { headers.remove(name: "transfer-encoding") }
        if !flags.hasHost {
            transport.out.bytes.append(contentsOf: "Host: ".utf8)
            transport.out.bytes.append(
                contentsOf: request.host.contains(":") ? "[\(request.host)]".utf8 : request.host.utf8)
            if request.port != 80 {
                transport.out.bytes.append(0x3A)
                WireEncoding.appendDecimal(request.port, to: &transport.out.bytes)
            }
            transport.out.bytes.append(contentsOf: WireEncoding.crlf)
        }
        headers.write(into: &transport.out.bytes)
        if let length, !hasLength, length > 0 || request.method != .get && request.method != .head {
            WireEncoding.appendContentLength(length, to: &transport.out.bytes)
        }
        if chunked { transport.out.bytes.append(contentsOf: WireEncoding.chunkedLine) }
        transport.out.bytes.append(contentsOf: WireEncoding.crlf)
    }

    private func writeBodyChunk(_ chunk: [UInt8], chunked: Bool) async throws {
        if let failure { throw failure }
        if isUploadRefused { throw ResponseArrivedEarly() }
        if chunk.isEmpty { return }
        transport.out.appendBody(chunk, chunked: chunked)
        try await transport.flushOrWaitForDrain()
        if let failure { throw failure }
    }

    // MARK: Input

    func process(_ input: UnsafeBufferPointer<UInt8>) -> Int {
        var offset = 0
        while state == .active && !transport.isReadPaused && !isResponseComplete {
            guard let (event, base) = nextEvent(in: input, at: &offset) else { break }
            switch event {
            case .needMore, .requestHead:
                break
            case .responseHead(let head):
                if head.status.code < 200 { continue }  // 100 Continue and other interim answers
                let rest = UnsafeBufferPointer(rebasing: input[offset...])
                if let range = parser.takeBufferedBody(rest, limit: Self.inlineBodyLimit) {
                    // The whole body came with the head: deliver it as bytes, no stream.
                    offset += range.count
                    deliverHead(head, wholeBody: Array(UnsafeBufferPointer(rebasing: rest[range])))
                    responseEnded()
                } else {
                    deliverHead(head, wholeBody: nil)
                }
            case .body(let range):
                let chunk = Array(
                    UnsafeBufferPointer(rebasing: input[(base + range.lowerBound)..<(base + range.upperBound)]))
                if let stream = responseStream, !stream.append(chunk) { transport.setReadPaused(true) }
            case .end:
                responseEnded()
            }
        }
        return offset
    }

    private func deliverHead(_ head: HTTPResponseHead, wholeBody: [UInt8]?) {
        keepAlive = head.keepAlive
        if !isRequestSent && head.status.code >= 400 {
            // The server answered with an error (often 413) before the body was sent: stop sending, return its
            // answer, and do not reuse the connection, whose request framing is now incomplete. A success that
            // arrives early is returned too, while the body keeps going transport.out.
            isUploadRefused = true
            keepAlive = false
            transport.failDrainWaiter(ResponseArrivedEarly())
        }
        let body: HTTPBody
        if let wholeBody {
            body = .bytes(wholeBody)
        } else if head.framing == .none {
            body = .empty
        } else {
            let stream = ByteStream(loop: loop, source: self)
            responseStream = stream
            let length: Int? = if case .length(let n) = head.framing { n } else { nil }
            body = HTTPBody(storage: .stream(stream), limit: .max, declaredLength: length)
        }
        let response = HTTPClientResponse(head: head, body: body)
        if let waiter = headWaiter {
            headWaiter = nil
            waiter.resume(returning: response)
        } else {
            received = response
        }
    }

    private func responseEnded() {
        isResponseComplete = true
        responseStream?.finish()
        responseStream = nil
        recycleIfDone()
    }

    private func recycleIfDone() {
        guard isResponseComplete, state == .active else { return }
        cancelTimer()
        guard keepAlive, isRequestSent, transport.pending.isEmpty, failure == nil else {
            if isRequestSent || !keepAlive { close() }
            return
        }
        state = .idle
        idleSince = loop.now
        if transport.isReadPaused { transport.setReadPaused(false) }
        pool.release(self)
    }

    func peerClosed() {
        if state == .idle {
            close()
            return
        }
        do {
            let event = try parser.finish(bufferedBytes: transport.pending.count)
            if event == .end {
                keepAlive = false
                responseEnded()
                close()
                return
            }
        } catch {}
        fail(.remoteClosed)
    }

    // MARK: ByteStreamSource

    func byteStreamWantsMore() {
        if transport.isReadPaused { transport.setReadPaused(false) }
    }

    func byteStreamFirstRead() {}

    func byteStreamAbandoned() {
        // The caller dropped the response before its end: the rest is unread, so the connection cannot be reused.
        if state == .active && !isResponseComplete { close() }
    }

    // MARK: StreamHandler

    func writeFailed(_ error: SystemError) { fail(Self.transferError(error)) }

    func bytesArriving() -> Bool {
        if state == .idle {
            // A pooled connection must stay silent; anything else means it is unusable.
            close()
            return false
        }
        failedBeforeResponse = false
        return true
    }

    func readFailed(_ error: SystemError) { fail(Self.transferError(error)) }

    func parseFailed(_ error: HTTPParseError) { fail(.invalidResponse(error.reason)) }

    // MARK: Failing and closing

    /// Fails whatever waits on this connection with `error` and closes it.
    private func fail(_ error: HTTPClientError) {
        guard state != .closed else { return }
        failure = error
        close()
    }

    func close() {
        guard state != .closed else { return }
        let wasIdle = state == .idle
        state = .closed
        cancelTimer()
        let error = failure ?? .remoteClosed
        transport.close(failingWritersWith: error)
        if wasIdle { pool.remove(self) }
        if let waiter = connectWaiter {
            connectWaiter = nil
            waiter.resume(throwing: error)
        }
        if let waiter = headWaiter {
            headWaiter = nil
            waiter.resume(throwing: error)
        }
        if !isResponseComplete { responseStream?.fail(error) }
        responseStream = nil
    }
}

/// Stops sending a request body once the server has answered.
private struct ResponseArrivedEarly: Error {}
