import SkiffPOSIX

/// The producing side of a ``ByteStream``: a connection that reads from a socket. Loop thread only.
protocol ByteStreamSource: AnyObject {
    /// The consumer took enough that reading may resume.
    func byteStreamWantsMore()
    /// The consumer asked for the first chunk (a server answers `Expect: 100-continue` now).
    func byteStreamFirstRead()
    /// The consumer went away before the end; the rest of the body will not be read.
    func byteStreamAbandoned()
}

/// Body bytes handed from a connection (producer, on its loop) to a handler (consumer, async).
/// Bounded: past `highWater` buffered bytes the producer is told to stop reading from the socket,
/// so a slow consumer holds a 1 GB upload to a few hundred KiB of memory.
final class ByteStream: @unchecked Sendable {
    // @unchecked: every var is touched on `loop` only; `next()` hops onto the loop before reading state.
    let loop: EventLoop
    weak var source: (any ByteStreamSource)?
    static let highWater = 256 * 1024

    private var chunks: [[UInt8]] = []
    private var head = 0
    private var bufferedBytes = 0
    private var isFinished = false
    private var failure: (any Error)?
    private var waiter: UnsafeContinuation<[UInt8]?, any Error>?
    private var hasBeenRead = false
    private var isDone = false

    init(loop: EventLoop, source: (any ByteStreamSource)?) {
        self.loop = loop
        self.source = source
    }

    deinit {
        if !isDone, let source {
            let loop = self.loop
            nonisolated(unsafe) let abandoned = source
            loop.execute { abandoned.byteStreamAbandoned() }
        }
    }

    // MARK: Producer (loop thread)

    /// Adds a chunk; returns false when the producer should pause reading until ``ByteStreamSource/byteStreamWantsMore()``.
    func append(_ chunk: [UInt8]) -> Bool {
        if let waiter {
            self.waiter = nil
            waiter.resume(returning: chunk)
            return true
        }
        chunks.append(chunk)
        bufferedBytes += chunk.count
        return bufferedBytes < Self.highWater
    }

    func finish() {
        guard !isFinished else { return }
        isFinished = true
        if let waiter, head == chunks.count {
            self.waiter = nil
            isDone = true
            waiter.resume(returning: nil)
        }
    }

    func fail(_ error: any Error) {
        guard !isFinished else { return }
        isFinished = true
        failure = error
        if let waiter {
            self.waiter = nil
            isDone = true
            waiter.resume(throwing: error)
        }
    }

    // MARK: Consumer

    func next() async throws -> [UInt8]? {
        try await loop.onLoop { try await nextOnLoop() }
    }

    private func nextOnLoop() async throws -> [UInt8]? {
        if !hasBeenRead {
            hasBeenRead = true
            source?.byteStreamFirstRead()
        }
        if head < chunks.count {
            let chunk = chunks[head]
            head += 1
            let wasPaused = bufferedBytes >= Self.highWater
            bufferedBytes -= chunk.count
            if head == chunks.count {
                chunks.removeAll(keepingCapacity: true)
                head = 0
            }
            if wasPaused && bufferedBytes < Self.highWater / 2 { source?.byteStreamWantsMore() }
            return chunk
        }
        if isFinished {
            isDone = true
            if let failure { throw failure }
            return nil
        }
        if bufferedBytes == 0 { source?.byteStreamWantsMore() }
        return try await withUnsafeThrowingContinuation { continuation in
            waiter = continuation
        }
    }
}
