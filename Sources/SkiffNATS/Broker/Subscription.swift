import Synchronization

/// One SUB of one client: what it matches, its queue group, its sid, and where its messages go. Delivered to
/// from any loop.
final class Subscription: Sendable {
    let mailbox: ClientMailbox
    let subject: [UInt8]
    let queue: [UInt8]?
    let sid: [UInt8]
    /// Messages handed to it so far.
    private let delivered = Atomic<Int>(0)
    /// `UNSUB sid max`: it goes away once this many have been delivered in total; 0 for no limit.
    private let limit = Atomic<Int>(0)
    private let removed = Atomic<Bool>(false)

    init(mailbox: ClientMailbox, subject: [UInt8], queue: [UInt8]?, sid: [UInt8]) {
        self.mailbox = mailbox
        self.subject = subject
        self.queue = queue
        self.sid = sid
    }

    var deliveredCount: Int { delivered.load(ordering: .relaxed) }

    /// Gone from the index (unsubscribed, reached its limit, or its client closed): its sid may be used again.
    var isRemoved: Bool { removed.load(ordering: .acquiring) }
    func markRemoved() { removed.store(true, ordering: .releasing) }

    /// Sets the delivery limit; true when it is already reached (the caller removes the subscription now).
    func limit(to maximum: Int) -> Bool {
        limit.store(maximum, ordering: .relaxed)
        return delivered.load(ordering: .relaxed) >= maximum
    }

    /// Counts one delivery if the limit allows it: `.deliver` (and `.deliverAndRemove` for the last one allowed),
    /// or `.skip` when concurrent publishers already took the last one.
    func takeDelivery() -> Take {
        let maximum = limit.load(ordering: .relaxed)
        let count = delivered.wrappingAdd(1, ordering: .relaxed).newValue
        guard maximum > 0 else { return .deliver }
        if count < maximum { return .deliver }
        return count == maximum ? .deliverAndRemove : .skip
    }

    enum Take { case deliver, deliverAndRemove, skip }
}
