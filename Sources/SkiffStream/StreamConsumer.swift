import Foundation
import Synchronization

/// A durable pull consumer of one stream: which message a pull gets next, which deliveries wait for their ack and
/// until when, and what an ack, a nak, a progress note or a termination does. In a work-queue stream an ack (or a
/// termination) deletes the message. Time is passed in (nanoseconds since 1970), so every rule is tested exactly;
/// the broker's timer asks ``nextDeadline`` when to look again.
public final class StreamConsumer: Sendable {
    public let configuration: ConsumerConfiguration
    public let stream: MessageStream
    /// Whether a stored message's subject passes the consumer's filter (the broker supplies the subject rules).
    private let passes: @Sendable (String) -> Bool
    private let state = Mutex(State())
    /// Where the delivery state is kept across restarts; nil for a consumer that keeps it in memory only.
    private let file: ConsumerStateFile?

    private struct State {
        /// The highest stream sequence delivered for the first time.
        var cursor: UInt64 = 0
        /// Deliveries made, redeliveries included: the consumer sequence of the last one.
        var deliveries: UInt64 = 0
        var pending = PendingDeliveries()
        var redelivered = 0
        /// Raised by every change that the file must carry.
        var version: UInt64 = 0
    }

    struct Pending {
        var deliveries: Int
        var deadline: Int64
        /// The last delivery was answered with a NAK: its next one is a retry, not a redelivery after silence.
        var negativelyAcknowledged = false
        /// The puller said it began the work of the last delivery (``started(_:)``).
        var started = false

        /// How the file keeps the two flags.
        var flags: UInt64 {
            get { (negativelyAcknowledged ? 1 : 0) | (started ? 2 : 0) }
            set {
                negativelyAcknowledged = newValue & 1 != 0
                started = newValue & 2 != 0
            }
        }

        init(deliveries: Int, deadline: Int64, flags: UInt64 = 0) {
            self.deliveries = deliveries
            self.deadline = deadline
            self.flags = flags
        }
    }

    /// One message handed to a puller.
    public struct Delivery: Sendable, Equatable {
        public var message: StoredMessage
        /// 1 for the first delivery of this message.
        public var deliveries: Int
        public var consumerSequence: UInt64
        /// Messages left to deliver for the first time after this one.
        public var pending: Int
        /// Delivered again after the last delivery's wait ran out with no answer at all (no ack, no NAK) although
        /// its puller had said it began the work (``started(_:)``): the puller stopped or crashed, so the work may
        /// have been done already. What a work queue counts as possible duplicates.
        public var afterSilence = false

        public init(
            message: StoredMessage, deliveries: Int, consumerSequence: UInt64, pending: Int, afterSilence: Bool = false
        ) {
            self.message = message
            self.deliveries = deliveries
            self.consumerSequence = consumerSequence
            self.pending = pending
            self.afterSilence = afterSilence
        }
    }

    /// What JetStream announces as advisories.
    public enum Event: Sendable, Equatable {
        /// A message went unacknowledged through its last delivery; it is not delivered again (it stays stored).
        case maxDeliveries(streamSequence: UInt64, deliveries: Int)
    }

    /// With `stateFile`, what was delivered and acknowledged is kept there (written in the background; an ack on a
    /// stream that keeps acknowledged messages is answered once it is on disk) and read back when the consumer is
    /// made again: deliveries still waiting for an ack are delivered again after their wait from `now`.
    ///
    /// The state is a snapshot and a journal of the changes since; `journalBytes` is the journal's size at which the
    /// snapshot is written again and the journal emptied.
    public init(
        stream: MessageStream, configuration: ConsumerConfiguration, stateFile: String? = nil, now: Int64 = 0,
        journalBytes: Int = 1 << 20, passes: @escaping @Sendable (String) -> Bool = { _ in true }
    ) {
        self.stream = stream
        self.configuration = configuration
        self.passes = passes
        file = stateFile.map { ConsumerStateFile(path: $0, compactionBytes: journalBytes) }
        if let file {
            let (saved, events) = file.load()
            state.withLock { state in
                if let saved {
                    state.cursor = saved.cursor
                    state.deliveries = saved.deliveries
                    state.redelivered = saved.redelivered
                    state.version = saved.version ?? 0
                    for entry in saved.pending where entry.count >= 2 {
                        state.pending[entry[0]] = Pending(
                            deliveries: Int(clamping: entry[1]), deadline: 0, flags: entry.count >= 3 ? entry[2] : 0)
                    }
                }
                for (version, event) in events {
                    Self.apply(event, to: &state)
                    state.version = max(state.version, version)
                }
                for (sequence, waiting) in state.pending.entries {
                    // Gone from the stream (a work queue's ack is its deletion, which the journal does not repeat).
                    guard stream.log.contains(sequence) else {
                        state.pending[sequence] = nil
                        continue
                    }
                    state.pending[sequence]?.deadline = now + configuration.wait(afterDelivery: waiting.deliveries)
                }
            }
        }
        file?.attach { [weak self] in self?.snapshot() }
    }

    /// What a kept change does to the state, when the journal is read back.
    private static func apply(_ event: ConsumerEvent, to state: inout State) {
        switch event {
        case .delivered(let sequence, let deliveries):
            state.cursor = max(state.cursor, sequence)
            state.deliveries += 1
            if deliveries > 1 { state.redelivered += 1 }
            state.pending[sequence] = Pending(deliveries: Int(clamping: deliveries), deadline: 0)
        case .flagged(let sequence, let flags):
            state.pending[sequence]?.flags = flags
        case .removed(let sequence):
            state.pending[sequence] = nil
        }
    }

    private func snapshot() -> (version: UInt64, bytes: [UInt8]) {
        let saved = state.withLock { state in
            ConsumerSnapshot(
                cursor: state.cursor, deliveries: state.deliveries, redelivered: state.redelivered,
                pending: state.pending.entries.map { [$0.key, UInt64($0.value.deliveries), $0.value.flags] }.sorted {
                    $0[0] < $1[0]
                }, version: state.version)
        }
        return (saved.version ?? 0, saved.json())
    }

    /// Keeps `event`, a change just made to `state` (under the lock, so that the journal's order is the changes'
    /// order). The caller calls ``flush()`` once the lock is released.
    private func record(_ event: ConsumerEvent, in state: inout State) {
        guard let file else { return }
        state.version += 1
        file.record(event, version: state.version)
    }

    /// Starts writing what was recorded.
    private func flush() { file?.flush() }

    /// Stops keeping the state (the consumer was deleted); its file may then be removed.
    public func retire() { file?.retire() }

    /// The next message for a pull, or nil when there is none (or `max_ack_pending` deliveries wait for acks).
    /// A delivery whose wait has passed comes first (redelivered); then the oldest message not yet delivered.
    /// Deliveries that used their last attempt are dropped from the wait and reported.
    public func next(now: Int64) -> (delivery: Delivery?, events: [Event]) {
        var events: [Event] = []
        while true {
            enum Choice {
                case redeliver(UInt64, Int)
                case deliverNew(UInt64)
                case exhausted, nothing
            }
            let choice = state.withLock { state -> Choice in
                if let (sequence, waiting) = state.pending.first(), waiting.deadline <= now {
                    if configuration.maxDeliver >= 0 && waiting.deliveries >= configuration.maxDeliver {
                        state.pending[sequence] = nil
                        record(.removed(sequence), in: &state)
                        events.append(.maxDeliveries(streamSequence: sequence, deliveries: waiting.deliveries))
                        return .exhausted
                    }
                    return .redeliver(sequence, waiting.deliveries + 1)
                }
                guard state.pending.count < configuration.maxAckPending else { return .nothing }
                return .deliverNew(state.cursor)
            }
            switch choice {
            case .nothing:
                return (nil, events)
            case .exhausted:
                flush()
                continue
            case .redeliver(let sequence, let deliveries):
                guard let message = try? stream.log.message(sequence) else {
                    // Gone meanwhile (a limit, a purge): nothing to wait for.
                    state.withLock { state in
                        if state.pending.removeValue(forKey: sequence) != nil { record(.removed(sequence), in: &state) }
                    }
                    flush()
                    continue
                }
                let delivery = state.withLock { state -> Delivery in
                    state.deliveries += 1
                    state.redelivered += 1
                    let silent =
                        state.pending[sequence].map { $0.started && !$0.negativelyAcknowledged } ?? false
                    state.pending[sequence] = Pending(
                        deliveries: deliveries, deadline: now + configuration.wait(afterDelivery: deliveries))
                    record(.delivered(sequence, deliveries: UInt64(deliveries)), in: &state)
                    return Delivery(
                        message: message, deliveries: deliveries, consumerSequence: state.deliveries,
                        pending: 0, afterSilence: silent)
                }
                flush()
                return (withPending(delivery), events)
            case .deliverNew(let cursor):
                guard let (sequence, message) = firstUndelivered(after: cursor) else { return (nil, events) }
                let delivery = state.withLock { state -> Delivery in
                    state.cursor = max(state.cursor, sequence)
                    state.deliveries += 1
                    state.pending[sequence] = Pending(
                        deliveries: 1, deadline: now + configuration.wait(afterDelivery: 1))
                    record(.delivered(sequence, deliveries: 1), in: &state)
                    return Delivery(message: message, deliveries: 1, consumerSequence: state.deliveries, pending: 0)
                }
                flush()
                return (withPending(delivery), events)
            }
        }
    }

    private func withPending(_ delivery: Delivery) -> Delivery {
        var delivery = delivery
        delivery.pending = numPending
        return delivery
    }

    private func firstUndelivered(after cursor: UInt64) -> (UInt64, StoredMessage)? {
        var position = cursor
        while let sequence = stream.log.sequence(after: position) {
            position = sequence
            guard let message = try? stream.log.message(sequence) else { continue }
            if passes(message.subject) { return (sequence, message) }
        }
        return nil
    }

    /// `+ACK`: done. In a work queue the message is deleted (once that is on disk). False when nothing was
    /// waiting for this ack.
    @discardableResult
    public func acknowledge(_ sequence: UInt64) async -> Bool {
        guard release(sequence) else { return false }
        await settle(sequence)
        return true
    }

    /// The first half of an ack, done at once: the message no longer waits for its ack, so its room under
    /// `max_ack_pending` is free for the next pull. ``settle(_:)`` must follow when this returns true.
    ///
    /// In a work queue the deletion that follows is what keeps the ack, so the journal is not told: had it been,
    /// a crash between the two would leave a message that is neither delivered again nor deleted.
    public func release(_ sequence: UInt64) -> Bool {
        state.withLock { state in
            guard state.pending.removeValue(forKey: sequence) != nil else { return false }
            if stream.configuration.retention != .workQueue { record(.removed(sequence), in: &state) }
            return true
        }
    }

    /// After an ack or a termination: a work queue deletes the message (the deletion on disk is what keeps it
    /// from coming back); a stream that keeps it waits until the consumer's file says it was acknowledged.
    public func settle(_ sequence: UInt64) async {
        let version = state.withLock { $0.version }
        flush()
        if stream.configuration.retention == .workQueue {
            _ = try? await stream.log.delete(sequence)
        } else {
            await file?.written(atLeast: version)
        }
    }

    /// `-NAK`, or `-NAK {"delay": ns}`: deliver again now, or after the delay.
    public func negativeAcknowledge(_ sequence: UInt64, delay: Int64? = nil, now: Int64) {
        let known = state.withLock { state -> Bool in
            guard var waiting = state.pending[sequence] else { return false }
            waiting.deadline = now + max(delay ?? 0, 0)
            waiting.negativelyAcknowledged = true
            state.pending[sequence] = waiting
            record(.flagged(sequence, flags: waiting.flags), in: &state)
            return true
        }
        if known { flush() }
    }

    /// The puller begins the work of this delivery: if the delivery comes back after silence, it is marked as a
    /// possible duplicate. (A puller that holds deliveries before working on them says so only when it starts.)
    public func started(_ sequence: UInt64) {
        let known = state.withLock { state -> Bool in
            guard var waiting = state.pending[sequence] else { return false }
            waiting.started = true
            state.pending[sequence] = waiting
            record(.flagged(sequence, flags: waiting.flags), in: &state)
            return true
        }
        if known { flush() }
    }

    /// Takes back a delivery whose work was never started (a puller holding it for later): it no longer waits
    /// for an ack, and the caller may delete the message. False when it is not waiting, or was started.
    public func withdraw(_ sequence: UInt64) -> Bool {
        let withdrawn = state.withLock { state -> Bool in
            guard let waiting = state.pending[sequence], !waiting.started else { return false }
            state.pending[sequence] = nil
            record(.removed(sequence), in: &state)
            return true
        }
        if withdrawn { flush() }
        return withdrawn
    }

    /// Whether the delivery of `sequence` still waits for its ack (false once acked, withdrawn or terminated).
    public func isPending(_ sequence: UInt64) -> Bool { state.withLock { $0.pending[sequence] != nil } }

    /// Returns once the consumer's file carries every delivery made so far (at once without a file). A puller
    /// that must know, after a crash, which work it may have started (to count it as a possible duplicate) waits
    /// for this before starting it; deliveries made together are written together.
    public func deliveriesKept() async {
        guard let file else { return }
        await file.written(atLeast: state.withLock { $0.version })
    }

    /// `+WPI`: still working; the wait starts again.
    public func inProgress(_ sequence: UInt64, now: Int64) {
        state.withLock { state in
            guard let waiting = state.pending[sequence] else { return }
            state.pending[sequence]?.deadline = now + configuration.wait(afterDelivery: waiting.deliveries)
        }
    }

    /// `+TERM`: never deliver again. In a work queue the message is deleted.
    public func terminate(_ sequence: UInt64) async {
        guard release(sequence) else { return }
        await settle(sequence)
    }

    /// When a waiting delivery next falls due; nil when none waits.
    public var nextDeadline: Int64? { state.withLock { $0.pending.first()?.pending.deadline } }

    /// The highest stream sequence delivered so far: everything above it has never been handed out.
    public var cursor: UInt64 { state.withLock { $0.cursor } }

    /// Deliveries waiting for their ack.
    public var numAckPending: Int { state.withLock { $0.pending.count } }

    public var numRedelivered: Int { state.withLock { $0.redelivered } }

    /// Messages not delivered yet. (All of the stream's above the cursor, the filter aside: reading each one to
    /// apply the filter would cost a disk read per message for every delivery.)
    public var numPending: Int { stream.log.count(after: state.withLock { $0.cursor }) }
}
