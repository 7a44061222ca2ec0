import SkiffPOSIX
import Synchronization

/// The part of a client connection that publishers on other loops touch. Messages for the client are appended
/// here under a lock and moved to its socket by its own loop, in one hop per batch; a publisher on the client's
/// own loop writes to the connection directly. What it counts (messages and bytes out) is read by the monitor.
final class ClientMailbox: Sendable {
    let id: UInt64
    let loop: EventLoop
    /// The client's connection; read and written on `loop` only, nil once it has closed.
    nonisolated(unsafe) var connection: ClientConnection?
    /// From the client's CONNECT: whether it receives its own publishes, and takes headers.
    let echo = Atomic<Bool>(true)
    let takesHeaders = Atomic<Bool>(false)
    let messagesOut = Atomic<Int>(0)
    let bytesOut = Atomic<Int>(0)
    private let queue = Mutex(Queue())
    /// Set while bytes wait in the queue: a lock-free look for the client's own loop.
    private let hasQueued = Atomic<Bool>(false)
    private let maxPending: Int

    private struct Queue {
        var bytes: [UInt8] = []
        var drainScheduled = false
        var isClosed = false
        /// Past the pending limit: the client's loop closes it as a slow consumer.
        var isOverLimit = false
    }

    init(id: UInt64, loop: EventLoop, maxPending: Int) {
        self.id = id
        self.loop = loop
        self.maxPending = maxPending
    }

    /// From another loop: appends frames a publisher gathered for this client (`messages` of them), and asks the
    /// client's loop to move them to the socket unless that is already asked. Dropped once the client has closed.
    func enqueue(_ frames: [UInt8], messages: Int) {
        let schedule = queue.withLock { queue -> Bool in
            guard !queue.isClosed, !queue.isOverLimit else { return false }
            if queue.bytes.isEmpty { queue.bytes = frames } else { queue.bytes.append(contentsOf: frames) }
            hasQueued.store(true, ordering: .releasing)
            if queue.bytes.count > maxPending { queue.isOverLimit = true }
            guard !queue.drainScheduled else { return false }
            queue.drainScheduled = true
            return true
        }
        messagesOut.add(messages, ordering: .relaxed)
        bytesOut.add(frames.count, ordering: .relaxed)
        if schedule { loop.execute { [self] in drain() } }
    }

    /// On the client's loop: hands the queued bytes to the connection.
    private func drain() {
        guard let (bytes, overLimit) = takeQueued(), let connection else { return }
        if overLimit {
            connection.closeAsSlowConsumer()
        } else {
            connection.deliverQueued(bytes)
        }
    }

    /// What other loops have queued, taken now (nil when nothing is): a PING drains it before its PONG, so
    /// that a message published (and flushed) before the client's PING arrives before the PONG, as on
    /// nats-server, where delivery writes straight into the subscriber's buffer.
    func takeQueued() -> (bytes: [UInt8], overLimit: Bool)? {
        guard hasQueued.load(ordering: .acquiring) else { return nil }
        return queue.withLock { queue in
            queue.drainScheduled = false
            hasQueued.store(false, ordering: .releasing)
            defer { queue.bytes = [] }
            return (queue.bytes, queue.isOverLimit)
        }
    }

    /// The client closed: nothing more is queued for it.
    func close() {
        queue.withLock { queue in
            queue.isClosed = true
            queue.bytes = []
        }
    }
}
