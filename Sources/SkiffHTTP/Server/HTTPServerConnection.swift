import SkiffNet
import SkiffPOSIX

/// One accepted TCP connection: parses requests, runs the responder for each in turn, writes responses in order.
///
/// Requests on a connection are handled one at a time; bytes of pipelined requests wait in the transport until the
/// response before them is complete, so answers always come back in request order. A handler starts with
/// `Task.immediate` on this loop's executor: a handler that does not suspend answers within the same loop tick.
final class HTTPServerConnection: HTTPStreamHandler, ByteStreamSource, HTTPBodySink, @unchecked Sendable {
    // @unchecked: confined to `context.loop`; the async sink methods hop onto the loop before touching state.
    let transport: StreamConnection
    var parser: HTTPParser
    var loop: EventLoop { transport.loop }
    /// Strong: a handler may still be finishing after its server stopped. The context drops the connection at close.
    let context: ServerLoopContext

    enum Phase { case idle, readingHead, handling, lingering, closed }

    private(set) var phase = Phase.idle
    private var phaseSince: UInt64
    private var closeWhenFlushed = false
    /// The client may still be sending (an unread body, bytes after a bad request): close by lingering.
    private var mayHaveUnreadInput = false
    private(set) var generation: UInt64 = 0
    var exchange: Exchange?
    /// The responder's task for the exchange in flight: cancelled when the connection closes, so that a handler
    /// streaming to a client that left (a log follower, say) stops and releases what it holds.
    private var handler: Task<Void, Never>?
    /// Reading stopped because the client sends requests faster than it reads the answers (pipelining without
    /// reading): resumed once the output has drained.
    private var pausedForBacklog = false
    private var remoteAddress: SocketAddress?
    private var hasRemoteAddress = false

    /// The request being answered.
    struct Exchange {
        let head: HTTPRequestHead
        let stream: ByteStream?
        var isBodyComplete: Bool
        var isResponseStarted = false
        var isResponseEnded = false
        var sentContinue = false
        var keepAlive: Bool
        var isHead: Bool
        var chunked = false
        var declaredLength: Int?
        var written = 0
        /// Unread request body bytes dropped after the response, to keep the connection usable.
        var discarded = 0
    }

    init(transport: StreamConnection, context: ServerLoopContext) {
        self.transport = transport
        self.context = context
        phaseSince = context.loop.now
        parser = HTTPParser(kind: .request, maxHeadBytes: context.configuration.maxHeadBytes)
    }

    // MARK: Input

    /// Parses as much of `input` as the current exchange allows; returns the bytes consumed.
    func process(_ input: UnsafeBufferPointer<UInt8>) -> Int {
        var offset = 0
        while phase != .closed {
            // Pipelined requests wait until the response before them is complete.
            if let exchange, exchange.isBodyComplete { break }
            if transport.isReadPaused { break }
            guard let (event, base) = nextEvent(in: input, at: &offset) else { break }
            switch event {
            case .needMore, .responseHead:
                break
            case .requestHead(let head):
                let rest = UnsafeBufferPointer(rebasing: input[offset...])
                if let range = parser.takeBufferedBody(rest, limit: Self.inlineBodyLimit) {
                    // The whole body came with the head (most small POSTs): hand it over as bytes, no stream.
                    let body = Array(UnsafeBufferPointer(rebasing: rest[range]))
                    offset += range.count
                    startExchange(head, wholeBody: body)
                } else {
                    startExchange(head, wholeBody: nil)
                }
            case .body(let range):
                deliverBody(UnsafeBufferPointer(rebasing: input[(base + range.lowerBound)..<(base + range.upperBound)]))
            case .end:
                endOfRequestBody()
            }
        }
        return offset
    }

    private func deliverBody(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard var current = exchange else { return }
        if current.isResponseEnded {
            current.discarded += bytes.count
            exchange = current
            if current.discarded > context.configuration.maxDrainBytes { close() }
            return
        }
        guard let stream = current.stream else { return }
        if !stream.append(Array(bytes)) { transport.setReadPaused(true) }
    }

    private func endOfRequestBody() {
        guard var current = exchange else { return }
        current.isBodyComplete = true
        exchange = current
        current.stream?.finish()
        if current.isResponseEnded { completeExchange() }
    }

    func peerClosed() {
        transport.isReadClosed = true
        if phase == .lingering {
            close()
            return
        }
        if let exchange {
            if !exchange.isBodyComplete {
                exchange.stream?.fail(HTTPBodyError.connectionClosed)
                if exchange.isResponseEnded { close() }
            }
            // A stream in progress has no one to go to: stop it. Otherwise the response in flight is still
            // written; the connection closes after it.
            else if exchange.isResponseStarted && !exchange.isResponseEnded {
                close()
            }
        } else {
            closeAfterFlush()
        }
    }

    // MARK: Exchanges

    private func startExchange(_ head: HTTPRequestHead, wholeBody: [UInt8]?) {
        phase = .handling
        phaseSince = loop.now
        generation &+= 1
        let streams = head.framing != .none && wholeBody == nil
        let stream = streams ? ByteStream(loop: loop, source: self) : nil
        exchange = Exchange(
            head: head, stream: stream, isBodyComplete: !streams, keepAlive: head.keepAlive,
            isHead: head.method == .head)
        let limit = context.configuration.maxBodyBytes
        let body: HTTPBody
        if let stream {
            body = HTTPBody(storage: .stream(stream), limit: limit, declaredLength: head.contentLength)
        } else if let wholeBody {
            body = HTTPBody(storage: .bytes(wholeBody), limit: limit, declaredLength: wholeBody.count)
        } else {
            body = .empty
        }
        if !hasRemoteAddress {
            hasRemoteAddress = true
            remoteAddress = transport.peerAddress
        }
        let request = HTTPRequest(head: head, body: body, remoteAddress: remoteAddress, eventLoop: loop)
        let responder = context.responder
        let generation = self.generation
        handler = Task.immediate(executorPreference: loop) {
            let response: HTTPResponse
            do {
                response = try await responder.respond(to: request)
            } catch {
                response = ErrorResponse.make(for: error)
            }
            await self.send(response, generation: generation)
        }
    }

    private func send(_ response: HTTPResponse, generation: UInt64) async {
        guard generation == self.generation, phase != .closed, var current = exchange, !current.isResponseStarted else {
            return
        }
        let flags = WireEncoding.scan(response.headers)
        // After a 413 the client's body is unwanted: close rather than drain it (as Go and nginx do).
        if flags.asksClose || context.server.isClosing || transport.isReadClosed || response.status.code == 413 {
            current.keepAlive = false
        }
        let mayHaveBody = response.status.mayHaveBody
        current.isResponseStarted = true

        WireEncoding.appendStatusLine(response.status, to: &transport.out.bytes)
        var headers = response.headers
        if flags.hasTransferEncoding { headers.remove(name: "transfer-encoding") }
        switch response.body.storage {
        case .bytes(let bytes):
            // A correct Content-Length (a proxied response) is kept; a wrong one is replaced. For HEAD, the
            // handler's value describes the GET body and stands.
            let keepsLength = flags.hasContentLength && (current.isHead || flags.contentLength == bytes.count)
            if flags.hasContentLength && !keepsLength { headers.remove(name: "content-length") }
            headers.write(into: &transport.out.bytes)
            if mayHaveBody && !keepsLength { WireEncoding.appendContentLength(bytes.count, to: &transport.out.bytes) }
            finishHead(&current, flags: flags)
            if mayHaveBody && !current.isHead { transport.out.bytes.append(contentsOf: bytes) }
            exchange = current
            responseEnded()
        case .stream(let length, let write):
            let declared = length ?? flags.contentLength
            if let length, !flags.hasContentLength, mayHaveBody {
                WireEncoding.appendContentLength(length, to: &transport.out.bytes)
            }
            headers.write(into: &transport.out.bytes)
            if declared == nil && mayHaveBody {
                if current.head.version.minor >= 1 {
                    current.chunked = true
                    transport.out.bytes.append(contentsOf: WireEncoding.chunkedLine)
                } else {
                    current.keepAlive = false  // HTTP/1.0: the end of the body is the close
                }
            }
            current.declaredLength = mayHaveBody ? declared : 0
            finishHead(&current, flags: flags)
            exchange = current
            transport.requestFlush()
            do {
                try await write(HTTPBodyWriter(sink: self, generation: generation))
                try endStream(generation: generation)
            } catch {
                // A response cut off mid-body cannot be repaired; closing tells the client it is incomplete.
                close()
            }
        }
    }

    private func finishHead(_ current: inout Exchange, flags: WireEncoding.FieldFlags) {
        if !flags.hasDate { transport.out.bytes.append(contentsOf: context.currentDateLine) }
        if !current.keepAlive {
            if !flags.asksClose { transport.out.bytes.append(contentsOf: WireEncoding.closeLine) }
        } else if current.head.version.minor == 0 {
            transport.out.bytes.append(contentsOf: WireEncoding.keepAliveLine)
        }
        transport.out.bytes.append(contentsOf: WireEncoding.crlf)
    }

    private func endStream(generation: UInt64) throws {
        guard generation == self.generation, phase != .closed, let current = exchange else {
            throw HTTPWriteError.connectionClosed
        }
        if current.chunked && !current.isHead { transport.out.bytes.append(contentsOf: WireEncoding.lastChunk) }
        if let declared = current.declaredLength, declared != current.written, !current.isHead {
            throw HTTPWriteError.lengthMismatch(declared: declared, written: current.written)
        }
        responseEnded()
    }

    /// The response is fully queued. The exchange completes once the request body has been read too.
    private func responseEnded() {
        guard var current = exchange else { return }
        current.isResponseEnded = true
        exchange = current
        transport.requestFlush()
        if current.isBodyComplete {
            completeExchange()
            return
        }
        // The handler did not read the whole body. A client waiting for 100-continue will not send it,
        // and a large remainder is cheaper to cut off than to drain.
        current.stream?.fail(HTTPBodyError.connectionClosed)
        let remaining: Int
        if case .length(let n) = current.head.framing { remaining = n } else { remaining = 0 }
        if !current.keepAlive || (current.head.expectsContinue && !current.sentContinue)
            || remaining > context.configuration.maxDrainBytes
        {
            exchange?.keepAlive = false
            closeWhenFlushed = true
            mayHaveUnreadInput = true
            transport.setReadPaused(true)
        } else if transport.isReadPaused {
            transport.setReadPaused(false)
        }
    }

    private func completeExchange() {
        guard let current = exchange else { return }
        exchange = nil
        handler = nil
        if !current.keepAlive || transport.isReadClosed {
            closeAfterFlush()
            return
        }
        phase = transport.pending.isEmpty ? .idle : .readingHead
        phaseSince = loop.now
        if transport.out.unsentCount >= OutboundBuffer.highWater {
            // The client is not reading its answers: take no further request until they have gone out.
            pausedForBacklog = true
            transport.setReadPaused(true)
            return
        }
        if transport.isReadPaused { transport.setReadPaused(false) }
        if context.isShuttingDown && transport.pending.isEmpty {
            closeAfterFlush()
            return
        }
        // Called from inside `process` when the handler answered synchronously: that loop continues by itself.
        if !transport.isProcessing { transport.processPending() }
    }

    func parseFailed(_ error: HTTPParseError) {
        respondAndClose(error.status, error.reason, failing: error)
    }

    /// Answers with a plain-text error and closes: the connection's framing can no longer be trusted.
    private func respondAndClose(_ status: HTTPStatus, _ message: String, failing error: any Error) {
        exchange?.stream?.fail(error)
        if let exchange, exchange.isResponseStarted {
            close()
            return
        }
        exchange = nil
        WireEncoding.appendClosingText(status, message, dateLine: context.currentDateLine, to: &transport.out.bytes)
        transport.pending.removeAll()
        closeWhenFlushed = true
        mayHaveUnreadInput = true
        transport.setReadPaused(true)
        transport.requestFlush()
    }

    /// Sends FIN but keeps reading (and discarding) for a while: closing with unread input would make the kernel
    /// send RST, which can destroy the answer before the client has read it.
    private func beginLingering() {
        transport.shutdownWrite()
        exchange = nil
        transport.pending = []
        phase = .lingering
        phaseSince = loop.now
        transport.setReadPaused(false)
    }

    // MARK: StreamHandler

    func writeFailed(_ error: SystemError) { close() }

    func outputDrained() {
        if pausedForBacklog && !closeWhenFlushed {
            pausedForBacklog = false
            transport.setReadPaused(false)
        }
        guard closeWhenFlushed, phase != .lingering else { return }
        if mayHaveUnreadInput && !transport.isReadClosed { beginLingering() } else { close() }
    }

    /// Closes once everything queued has been written (at once when nothing is).
    private func closeAfterFlush() {
        closeWhenFlushed = true
        if transport.out.isEmpty { outputDrained() } else { transport.requestFlush() }
    }

    func bytesArriving() -> Bool {
        if phase == .lingering { return false }
        if phase == .idle {
            phase = .readingHead
            phaseSince = loop.now
        }
        return true
    }

    var keepsLeftover: Bool { phase != .closed && !closeWhenFlushed }

    /// Pipelined requests wait behind the one in flight; past one head's worth of them, reading stops until it
    /// has been answered, so a client cannot queue unbounded input in the daemon.
    func leftoverKept() {
        if exchange != nil && transport.pending.count > context.configuration.maxHeadBytes {
            transport.setReadPaused(true)
        }
    }

    func readFailed(_ error: SystemError) { close() }

    // MARK: Timeouts and closing

    func checkTimeouts(now: UInt64) {
        if phase != .closed && !transport.out.isEmpty && !transport.outputWasDrained
            && now &- transport.lastWriteProgress > context.writeTimeout
        {
            // The client stopped reading what we answered (whatever phase the next request is in).
            close()
            return
        }
        switch phase {
        case .readingHead where now &- phaseSince > context.headTimeout:
            respondAndClose(
                .requestTimeout, "the request head did not arrive within the server's timeout",
                failing: HTTPBodyError.connectionClosed)
        case .idle where now &- phaseSince > context.idleTimeout:
            close()
        case .lingering where now &- phaseSince > context.lingerTimeout:
            close()
        case .handling
        where exchange.map { $0.stream != nil && !$0.isBodyComplete && (!$0.head.expectsContinue || $0.sentContinue) }
            == true && !transport.isReadPaused
            && now &- max(transport.lastReadProgress, phaseSince) > context.bodyTimeout:
            // The client stopped sending a body the handler is waiting for (reading is not paused by us).
            respondAndClose(
                .requestTimeout,
                "the request body stopped arriving; the server waited \(context.configuration.bodyTimeout)",
                failing: HTTPBodyError.connectionClosed)
        default:
            break
        }
    }

    func closeIfIdle() {
        if phase == .idle || (phase == .readingHead && transport.pending.isEmpty) { close() }
    }

    func close() {
        guard phase != .closed else { return }
        phase = .closed
        handler?.cancel()
        handler = nil
        context.connectionClosed(self)
        transport.close(failingWritersWith: HTTPWriteError.connectionClosed)
        exchange?.stream?.fail(HTTPBodyError.connectionClosed)
    }
}
