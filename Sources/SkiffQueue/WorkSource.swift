import SkiffPOSIX
import SkiffStream

/// Where a worker takes its deliveries from and answers them: a durable consumer of a stream in this process
/// (``StreamConsumer``, the embedded store) or on a NATS server or cluster (``ClusterConsumer``, `--queue nats://`).
/// The workers know only this, so that calls are made, retried, buried and called back the same way in both.
public protocol WorkSource: Sendable {
    /// Raised when new messages may be waiting: the worker then asks ``next(now:)`` again.
    var arrivals: ChangeSignal { get }
    /// Nanoseconds a delivery may go unanswered before it is delivered again.
    var ackWait: Int64 { get }
    /// When a delivery that waits for its answer next falls due (nil when none does, or the server keeps time).
    var nextDeadline: Int64? { get }
    /// Brings deliveries in ahead of ``next(now:)`` until cancelled; the worker runs it beside itself. Returns at
    /// once for a consumer in this process, which reads its deliveries from the log when asked.
    func pullAhead() async
    /// The next delivery, at once (never waits); nil when nothing is due.
    func next(now: Int64) -> (delivery: StreamConsumer.Delivery?, events: [StreamConsumer.Event])
    /// The work of this delivery begins: if it comes back after silence, it is a possible duplicate.
    func started(_ sequence: UInt64)
    /// Returns once the starts said so far would survive a crash.
    func deliveriesKept() async
    /// Whether the delivery still waits for its answer (false once acked, withdrawn or terminated).
    func isPending(_ sequence: UInt64) -> Bool
    /// Takes back a delivery whose work was never started; false when it is not waiting or was started.
    func withdraw(_ sequence: UInt64) -> Bool
    /// `+WPI`: still working on it.
    func inProgress(_ sequence: UInt64, now: Int64)
    /// `-NAK`: deliver again after `delay` nanoseconds.
    func negativeAcknowledge(_ sequence: UInt64, delay: Int64?, now: Int64)
    /// The first half of an ack, at once: the delivery no longer counts as waiting. ``settle(_:)`` follows when
    /// this returns true.
    func release(_ sequence: UInt64) -> Bool
    /// The second half of an ack: returns once it is kept (the message deleted, or the server told).
    func settle(_ sequence: UInt64) async
    /// `+ACK`: done.
    @discardableResult func acknowledge(_ sequence: UInt64) async -> Bool
    /// `+TERM`: never deliver again.
    func terminate(_ sequence: UInt64) async
}

extension WorkSource {
    /// Says `+WPI` for `sequence` at half the ack wait until the returned task is cancelled: a worker on a call
    /// longer than the wait keeps it from being delivered again meanwhile. `now` gives the time.
    public func keepInProgress(_ sequence: UInt64, now: @escaping @Sendable () -> Int64) -> Task<Void, Never> {
        let interval = Duration.nanoseconds(max(ackWait / 2, 1_000_000))
        return Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { return }
                inProgress(sequence, now: now())
            }
        }
    }
}

extension StreamConsumer: WorkSource {
    public var arrivals: ChangeSignal { stream.stored }
    public var ackWait: Int64 { configuration.ackWait }
    public func pullAhead() async {}
}
