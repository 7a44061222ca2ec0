import Glibc
import SkiffPOSIX

/// A byte-stream socket on one event loop, whatever the protocol: reading into the loop's buffer and keeping
/// what the protocol has not consumed, an outbound buffer flushed once at the end of each loop tick, backpressure
/// for writers, pausing reads, the readiness the loop watches, and the progress times that timeouts measure.
///
/// A protocol composes it: its ``StreamHandler`` holds the connection, and the connection holds the handler until
/// it closes (the loop keeps the connection, the connection keeps the handler; ``close(failingWritersWith:)`` ends
/// the cycle). Loop thread only.
public final class StreamConnection: EventLoopHandler, EndOfTickHandler {
    public let fd: Int32
    public let loop: EventLoop
    private let readBuffer: ReadBuffer
    private var handler: (any StreamHandler)?
    /// Bytes to send; protocols append to `out.bytes`, then call ``requestFlush()`` or ``flushOrWaitForDrain()``.
    public var out = OutboundBuffer()
    /// Received bytes the protocol has not consumed yet: an incomplete message, or pipelined ones waiting.
    public var pending: [UInt8] = []
    public private(set) var isClosed = false
    /// A non-blocking connect is under way: nothing is read or flushed until it finishes.
    public private(set) var isConnecting = false
    /// Reading is paused (a consumer is behind, or the protocol is finishing).
    public private(set) var isReadPaused = false
    /// The peer closed its sending side; nothing more to read.
    public var isReadClosed = false {
        didSet { if isReadClosed != oldValue { updateInterest() } }
    }
    /// True while the handler's ``StreamHandler/process(_:)`` runs, so re-entrant calls do not parse the same bytes
    /// twice.
    public private(set) var isProcessing = false
    private var wantsWrite = false
    private var endOfTickRequested = false
    private var drainWaiter: UnsafeContinuation<Void, any Error>?
    /// When bytes last arrived (loop time): what a stalled message is measured against.
    public private(set) var lastReadProgress: UInt64 = 0
    /// When queued output last moved to the socket (loop time): what a write timeout is measured against, so a
    /// peer that keeps sending while it reads nothing cannot keep its connection alive.
    public private(set) var lastWriteProgress: UInt64 = 0
    /// The output buffer was empty at the last flush: output queued since has not yet been offered to the socket,
    /// so it cannot have stalled (its clock starts at the first flush that finds it).
    public private(set) var outputWasDrained = true

    /// A connection on an accepted or connected socket, which it owns from now on (it closes it).
    public init(fd: Int32, loop: EventLoop, readBuffer: ReadBuffer) {
        self.fd = fd
        self.loop = loop
        self.readBuffer = readBuffer
    }

    /// Starts a non-blocking connect; ``start(handler:)`` then waits for it and reports through
    /// ``StreamHandler/connectFinished(errno:)``.
    public static func connect(
        to address: SocketAddress, networkNamespace: String?, loop: EventLoop, readBuffer: ReadBuffer
    ) throws(SystemError) -> StreamConnection {
        let started = try Socket.connect(to: address, networkNamespace: networkNamespace)
        Socket.setNoDelay(started.fd)
        let connection = StreamConnection(fd: started.fd, loop: loop, readBuffer: readBuffer)
        connection.isConnecting = started.inProgress
        return connection
    }

    /// Registers with the loop and delivers events to `handler` from now on. On failure the socket is closed.
    public func start(handler: any StreamHandler) throws(SystemError) {
        self.handler = handler
        do {
            try loop.register(fd, interest: isConnecting ? .write : .read, handler: self)
        } catch {
            self.handler = nil
            isClosed = true
            Socket.close(fd)
            throw error
        }
    }

    /// Deregisters and closes the socket, drops what was queued either way, and fails a writer waiting for the
    /// peer with `error`. Idempotent.
    public func close(failingWritersWith error: any Error) {
        guard !isClosed else { return }
        isClosed = true
        loop.deregister(fd)
        Socket.close(fd)
        handler = nil
        failDrainWaiter(error)
        out.discardAll()
        pending = []
    }

    /// Sends FIN and keeps the receiving side open.
    public func shutdownWrite() { Socket.shutdownWrite(fd) }

    /// The peer's address, when the socket still has one.
    public var peerAddress: SocketAddress? { Socket.peerAddress(fd) }

    // MARK: Events

    public func handleEvents(_ events: UInt32) {
        if isConnecting {
            if events & (EventBits.writable | EventBits.error | EventBits.hangup) != 0 { connectDone() }
            return
        }
        if events & EventBits.writable != 0 { flushOutput() }
        if events & (EventBits.readable | EventBits.readHangup) != 0 {
            readAvailable()
        } else if events & (EventBits.error | EventBits.hangup) != 0, !isClosed {
            // Reported whatever the interest: a paused reader would otherwise be woken for it again and again.
            if isReadPaused || isReadClosed {
                let code = Socket.pendingError(fd)
                handler?.readFailed(SystemError(call: "epoll_wait", errno: code != 0 ? code : ECONNRESET))
            } else {
                readAvailable()
            }
        }
    }

    private func connectDone() {
        isConnecting = false
        let code = Socket.pendingError(fd)
        if code == 0 { updateInterest() }
        handler?.connectFinished(errno: code)
    }

    // MARK: Input

    /// Reads what the socket has (a few reads at most, to stay fair to other connections) into the loop's shared
    /// buffer and hands it to the handler.
    private func readAvailable() {
        let scratch = readBuffer.bytes
        for _ in 0..<4 {
            guard let handler, !isClosed, !isReadPaused, !isReadClosed else { return }
            let result: IOResult<Int>
            do {
                result = try Socket.read(fd, into: scratch)
            } catch {
                handler.readFailed(error)
                return
            }
            switch result {
            case .wouldBlock:
                return
            case .processed(0):
                handler.peerClosed()
                return
            case .processed(let count):
                lastReadProgress = loop.now
                // Bytes the handler declines (a lingering close discards them) are dropped; reading goes on.
                if handler.bytesArriving() {
                    ingest(UnsafeRawBufferPointer(rebasing: scratch[0..<count]).bindMemory(to: UInt8.self), handler)
                }
                if count < scratch.count { return }
            }
        }
    }

    /// New bytes are parsed where they lie when nothing is pending; only what is left over is copied.
    private func ingest(_ bytes: UnsafeBufferPointer<UInt8>, _ handler: any StreamHandler) {
        if pending.isEmpty {
            let consumed = runProcess(bytes, handler)
            if consumed < bytes.count, !isClosed, handler.keepsLeftover {
                pending.append(contentsOf: bytes[consumed...])
                handler.leftoverKept()
            }
        } else {
            pending.append(contentsOf: bytes)
            processPending()
        }
    }

    /// Offers the kept bytes to the handler again (after it resumed, or finished the message before them).
    public func processPending() {
        guard !pending.isEmpty, !isProcessing, let handler else { return }
        // Parse from a moved-out copy: processing may clear `pending` (errors, close) while it runs.
        let buffer = pending
        pending = []
        let consumed = buffer.withUnsafeBufferPointer { runProcess($0, handler) }
        if consumed < buffer.count, !isClosed, handler.keepsLeftover {
            pending = consumed == 0 ? buffer : Array(buffer[consumed...])
            handler.leftoverKept()
        }
    }

    private func runProcess(_ input: UnsafeBufferPointer<UInt8>, _ handler: any StreamHandler) -> Int {
        isProcessing = true
        defer { isProcessing = false }
        return handler.process(input)
    }

    // MARK: Output

    /// Asks for a flush at the end of this tick, so everything a tick produced goes out in one write.
    public func requestFlush() {
        if !endOfTickRequested && !isClosed && !isConnecting {
            endOfTickRequested = true
            loop.requestEndOfTick(self)
        }
    }

    public func endOfTick() {
        endOfTickRequested = false
        flushOutput()
    }

    /// Writes as much of the queued output as the socket takes now.
    public func flushOutput() {
        guard !isClosed, !isConnecting else { return }
        if outputWasDrained && !out.isEmpty {
            outputWasDrained = false
            lastWriteProgress = loop.now
        }
        let unsent = out.unsentCount
        defer { if out.unsentCount != unsent { lastWriteProgress = loop.now } }
        switch out.flush(to: fd) {
        case .failed(let error):
            handler?.writeFailed(error)
        case .wouldBlock:
            setWantsWrite(true)
            if out.unsentCount < OutboundBuffer.lowWater { resumeDrainWaiter() }
        case .drained:
            outputWasDrained = true
            setWantsWrite(false)
            resumeDrainWaiter()
            handler?.outputDrained()
        }
    }

    /// After appending: flush at the end of the tick, or now and wait while the peer is behind (backpressure).
    public func flushOrWaitForDrain() async throws {
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

    /// Fails a writer waiting for the peer (the protocol gave up on the exchange it belongs to).
    public func failDrainWaiter(_ error: any Error) {
        guard let waiter = drainWaiter else { return }
        drainWaiter = nil
        waiter.resume(throwing: error)
    }

    // MARK: Interest

    public func setReadPaused(_ paused: Bool) {
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

    private func updateInterest() {
        guard !isClosed, !isConnecting else { return }
        var interest: Interest = []
        if !isReadPaused && !isReadClosed { interest.insert(.read) }
        if wantsWrite { interest.insert(.write) }
        loop.modify(fd, interest: interest)
    }
}
