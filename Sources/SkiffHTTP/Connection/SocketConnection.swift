import SkiffPOSIX

/// What server and client connections share: the socket and its loop, the outbound buffer with its backpressure,
/// flushing once per loop tick, and which readiness the loop watches. Subclasses add their protocol side and
/// react through the hooks. Loop thread only.
class SocketConnection: EndOfTickHandler {
    let fd: Int32
    let loop: EventLoop
    /// Requests on a server connection, responses on a client connection.
    var parser: HTTPParser
    /// Bytes to send; encoders append to `out.bytes`, then call ``requestFlush()``.
    var out = OutboundBuffer()
    /// Reading is paused (a consumer is behind, or the connection is finishing).
    private(set) var isReadPaused = false
    /// The peer closed its sending side; nothing more to read.
    var isReadClosed = false {
        didSet { if isReadClosed != oldValue { updateInterest() } }
    }
    /// Received bytes the parser has not consumed yet: an incomplete message, or pipelined requests waiting.
    var pending: [UInt8] = []
    /// True while ``process(_:)`` runs, so re-entrant calls do not parse the same bytes twice.
    private(set) var isProcessing = false
    private var wantsWrite = false
    private var endOfTickRequested = false
    private var drainWaiter: UnsafeContinuation<Void, any Error>?
    /// When bytes last arrived (loop time): what a stalled request body is measured against.
    private(set) var lastReadProgress: UInt64 = 0
    /// When queued output last moved to the socket (loop time): what the write timeout is measured against, so
    /// a client that keeps sending while it reads nothing cannot keep its connection alive.
    private(set) var lastWriteProgress: UInt64 = 0
    /// The output buffer was empty at the last flush: output queued since has not yet been offered to the socket,
    /// so it cannot have stalled (its clock starts at the first flush that finds it).
    private(set) var outputWasDrained = true

    /// Bodies up to this size that arrive with their head are delivered as bytes rather than as a stream.
    static let inlineBodyLimit = 64 * 1024

    init(fd: Int32, loop: EventLoop, parser: HTTPParser) {
        self.fd = fd
        self.loop = loop
        self.parser = parser
    }

    // MARK: Hooks

    /// Whether the socket may be read, flushed and its interest changed.
    var isOpen: Bool { true }
    /// Parses `input` (leftover bytes first, then new ones); returns how many bytes were consumed.
    func process(_ input: UnsafeBufferPointer<UInt8>) -> Int { input.count }
    /// Bytes are about to be processed; return false to drop them (lingering, or the subclass has closed).
    func bytesArriving() -> Bool { true }
    /// Whether unconsumed bytes are kept for later (not when the connection is finishing).
    var keepsLeftover: Bool { isOpen }
    /// The peer's bytes are not valid HTTP; the subclass answers or fails, and closes.
    func parseFailed(_ error: HTTPParseError) {}
    /// The peer closed its sending side (read returned 0).
    func peerClosed() {}
    /// Reading failed (ECONNRESET and the like).
    func readFailed(_ error: SystemError) {}
    /// Writing failed; the subclass closes and fails whatever waits.
    func writeFailed(_ error: SystemError) {}
    /// Everything queued has been written.
    func outputDrained() {}
    /// Unconsumed bytes were kept in `pending` (pipelined requests waiting): the subclass may stop reading.
    func leftoverKept() {}

    // MARK: Input

    /// Reads what the socket has (a few reads at most, to stay fair to other connections) into the loop's shared
    /// buffer and processes it.
    final func readAvailable(into scratch: UnsafeMutableRawBufferPointer) {
        for _ in 0..<4 {
            guard isOpen, !isReadPaused, !isReadClosed else { return }
            let result: IOResult<Int>
            do {
                result = try Socket.read(fd, into: scratch)
            } catch {
                readFailed(error)
                return
            }
            switch result {
            case .wouldBlock:
                return
            case .processed(0):
                peerClosed()
                return
            case .processed(let count):
                lastReadProgress = loop.now
                // Bytes the subclass declines (a lingering close discards them) are dropped; reading goes on.
                if bytesArriving() {
                    ingest(UnsafeRawBufferPointer(rebasing: scratch[0..<count]).bindMemory(to: UInt8.self))
                }
                if count < scratch.count { return }
            }
        }
    }

    /// New bytes are parsed where they lie when nothing is pending; only what is left over is copied.
    private func ingest(_ bytes: UnsafeBufferPointer<UInt8>) {
        if pending.isEmpty {
            let consumed = runProcess(bytes)
            if consumed < bytes.count, keepsLeftover {
                pending.append(contentsOf: bytes[consumed...])
                leftoverKept()
            }
        } else {
            pending.append(contentsOf: bytes)
            processPending()
        }
    }

    final func processPending() {
        guard !pending.isEmpty, !isProcessing else { return }
        // Parse from a moved-out copy: processing may clear `pending` (errors, close) while it runs.
        let buffer = pending
        pending = []
        let consumed = buffer.withUnsafeBufferPointer { runProcess($0) }
        if consumed < buffer.count, keepsLeftover {
            pending = consumed == 0 ? buffer : Array(buffer[consumed...])
            leftoverKept()
        }
    }

    /// The next parser event from `input[offset...]`, advancing `offset` past what it consumed, with the offset the
    /// event's body range is relative to. Nil when more input is needed, or when parsing failed: then
    /// ``parseFailed(_:)`` has been called and `offset` is at the end of the input.
    final func nextEvent(in input: UnsafeBufferPointer<UInt8>, at offset: inout Int) -> (
        event: HTTPParser.Event, base: Int
    )? {
        while true {
            let result: HTTPParser.Result
            do {
                result = try parser.parse(UnsafeBufferPointer(rebasing: input[offset...]))
            } catch {
                offset = input.count
                parseFailed(error)
                return nil
            }
            let base = offset
            offset += result.consumed
            // Framing or empty lines consumed but no event yet: the rest of the input may hold one.
            if result.event == .needMore {
                if result.consumed == 0 { return nil }
                continue
            }
            return (result.event, base)
        }
    }

    private func runProcess(_ input: UnsafeBufferPointer<UInt8>) -> Int {
        isProcessing = true
        defer { isProcessing = false }
        return process(input)
    }

    // MARK: Output

    /// Asks for a flush at the end of this tick, so everything a tick produced goes out in one write.
    final func requestFlush() {
        if !endOfTickRequested && isOpen {
            endOfTickRequested = true
            loop.requestEndOfTick(self)
        }
    }

    final func endOfTick() {
        endOfTickRequested = false
        flushOutput()
    }

    final func flushOutput() {
        guard isOpen else { return }
        if outputWasDrained && !out.isEmpty {
            outputWasDrained = false
            lastWriteProgress = loop.now
        }
        let unsent = out.unsentCount
        defer { if out.unsentCount != unsent { lastWriteProgress = loop.now } }
        switch out.flush(to: fd) {
        case .failed(let error):
            writeFailed(error)
        case .wouldBlock:
            setWantsWrite(true)
            if out.unsentCount < OutboundBuffer.lowWater { resumeDrainWaiter() }
        case .drained:
            outputWasDrained = true
            setWantsWrite(false)
            resumeDrainWaiter()
            outputDrained()
        }
    }

    /// After appending: flush at the end of the tick, or now and wait while the peer is behind (backpressure).
    final func flushOrWaitForDrain() async throws {
        guard out.unsentCount >= OutboundBuffer.highWater else {
            requestFlush()
            return
        }
        flushOutput()
        if out.unsentCount >= OutboundBuffer.highWater {
            try await withUnsafeThrowingContinuation { drainWaiter = $0 }
        }
    }

    private func resumeDrainWaiter() {
        guard let waiter = drainWaiter else { return }
        drainWaiter = nil
        waiter.resume()
    }

    /// Fails a writer waiting for the peer; called when the connection closes.
    final func failDrainWaiter(_ error: any Error) {
        guard let waiter = drainWaiter else { return }
        drainWaiter = nil
        waiter.resume(throwing: error)
    }

    // MARK: Interest

    final func setReadPaused(_ paused: Bool) {
        guard isReadPaused != paused else { return }
        isReadPaused = paused
        updateInterest()
        if !paused && !pending.isEmpty && !isProcessing {
            // Bytes kept while paused; processed in this tick, outside whatever called us.
            loop.executeLocal { [self] in processPending() }
        }
    }

    private func setWantsWrite(_ wants: Bool) {
        guard wantsWrite != wants else { return }
        wantsWrite = wants
        updateInterest()
    }

    final func updateInterest() {
        guard isOpen else { return }
        var interest: Interest = []
        if !isReadPaused && !isReadClosed { interest.insert(.read) }
        if wantsWrite { interest.insert(.write) }
        loop.modify(fd, interest: interest)
    }
}
