import Foundation
import SkiffNATSClient
import SkiffPOSIX
import SkiffStream
import Synchronization

/// A durable pull consumer on a NATS cluster, as a ``WorkSource``: ``pullAhead()`` pulls deliveries ahead of the worker
/// (`$JS.API.CONSUMER.MSG.NEXT`, a batch at a time) into a small buffer, and the answers go to each delivery's ack
/// subject (`+ACK`, `-NAK {"delay":…}`, `+WPI`, `+TERM`). The server keeps the time: a delivery unanswered for the
/// ack wait is delivered again, to this machine or another that shares the queue.
final class ClusterConsumer: WorkSource {
    let stream: String
    let durable: String
    let jetStream: ClusterJetStream
    let ackWait: Int64
    let arrivals = ChangeSignal()
    var nextDeadline: Int64? { nil }
    /// Deliveries pulled ahead of the worker at most.
    static let buffered = 256
    /// Retries remembered at most (to tell their next delivery from one after silence).
    static let rememberedRetries = 100_000
    /// How long one pull waits on the server for messages.
    static let pullExpiry = Duration.seconds(5)
    private let state = Mutex(State())
    /// Raised when the worker takes from the buffer, or a pull ends.
    private let changed = ChangeSignal()

    private struct State {
        var buffer: [(delivery: StreamConsumer.Delivery, ackSubject: String)] = []
        /// Deliveries taken by the worker and not answered yet: their ack subjects.
        var pending: [UInt64: (ackSubject: String, started: Bool)] = [:]
        /// Acked, and the ack not yet confirmed by the server.
        var settling: [UInt64: String] = [:]
        /// Answered `-NAK` by this worker: their next delivery is a retry, not a delivery after silence.
        var retried: Set<UInt64> = []
        /// Messages of the pull under way still to come; 0 when none is under way.
        var awaited = 0
    }

    init(stream: String, durable: String, jetStream: ClusterJetStream, ackWait: Int64) {
        self.stream = stream
        self.durable = durable
        self.jetStream = jetStream
        self.ackWait = ackWait
    }

    // MARK: Pulling

    /// Pulls until cancelled, connecting again (to the next server) whenever the connection is lost.
    func pullAhead() async {
        while !Task.isCancelled {
            do {
                try await pullOnOneConnection()
            } catch {
                state.withLock { $0.awaited = 0 }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    private func pullOnOneConnection() async throws {
        let client = try await jetStream.link.client()
        let inbox = "_INBOX.skiff-pull." + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let subscription = try await client.subscribe(inbox)
        defer { Task { await client.unsubscribe(subscription) } }
        let reader = Task { [self] in
            for await message in subscription { receive(message) }
        }
        defer { reader.cancel() }
        let next = "$JS.API.CONSUMER.MSG.NEXT.\(stream).\(durable)"
        while !Task.isCancelled {
            // Room in the buffer for a batch worth asking for.
            let batch = await changed.first(until: .now + .seconds(3600)) { () -> Int? in
                let room = state.withLock { Self.buffered - $0.buffer.count }
                return room >= Self.buffered / 4 ? room : nil
            }
            guard let batch else { return }
            state.withLock { $0.awaited = batch }
            let request: [String: Any] = ["batch": batch, "expires": Int64(Self.pullExpiry.nanoseconds)]
            try await client.publish(
                next, reply: inbox, payload: Array(try JSONSerialization.data(withJSONObject: request)))
            // Until the batch is full or the server ends the pull (408 at its expiry, 404 when nothing waits);
            // a pull the server forgot (its leader died) ends at the bound and is asked for again.
            let ended = await changed.first(until: .now + Self.pullExpiry + .seconds(2)) {
                state.withLock { $0.awaited == 0 } ? true : nil
            }
            if ended == nil {
                // Nothing at all from the server: the connection is dropped, the next pull goes elsewhere.
                await jetStream.link.lost(client)
                return
            }
            if subscription.dropped > 0 { return }
        }
    }

    /// A message on the pull's inbox: a delivery, or a status ending the pull.
    private func receive(_ message: NATSMessage) {
        if let status = message.status {
            // 100: a heartbeat. 404, 408, 409: this pull is over.
            if status != 100 {
                state.withLock { $0.awaited = 0 }
                changed.notify()
            }
            return
        }
        guard let reply = message.reply, let ack = Self.parseAckSubject(reply) else { return }
        let delivery = StreamConsumer.Delivery(
            message: StoredMessage(
                sequence: ack.streamSequence, subject: message.subject,
                headers: message.headers.isEmpty ? [] : HeaderBlock.encode(message.headers),
                payload: message.payload, time: ack.time),
            deliveries: ack.deliveries, consumerSequence: ack.consumerSequence, pending: ack.pending)
        state.withLock { state in
            state.awaited = max(state.awaited - 1, 0)
            // Delivered again while this worker still holds it (a `+WPI` lost to a failover): it is already
            // here, and answered once.
            guard state.pending[ack.streamSequence] == nil else { return }
            state.buffer.append((delivery, reply))
        }
        arrivals.notify()
        changed.notify()
    }

    /// The fields of `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`, and
    /// of the longer form with a domain and an account hash before the stream.
    static func parseAckSubject(
        _ subject: String
    ) -> (deliveries: Int, streamSequence: UInt64, consumerSequence: UInt64, time: Int64, pending: Int)? {
        let tokens = subject.split(separator: ".", omittingEmptySubsequences: false)
        guard tokens.count >= 9, tokens[0] == "$JS", tokens[1] == "ACK" else { return nil }
        let first = tokens.count == 9 ? 4 : 6
        guard tokens.count >= first + 5, let deliveries = Int(tokens[first]),
            let streamSequence = UInt64(tokens[first + 1]), let consumerSequence = UInt64(tokens[first + 2]),
            let time = Int64(tokens[first + 3]), let pending = Int(tokens[first + 4])
        else { return nil }
        return (deliveries, streamSequence, consumerSequence, time, pending)
    }

    // MARK: WorkSource

    func next(now: Int64) -> (delivery: StreamConsumer.Delivery?, events: [StreamConsumer.Event]) {
        let taken = state.withLock { state -> StreamConsumer.Delivery? in
            while !state.buffer.isEmpty {
                var (delivery, ackSubject) = state.buffer.removeFirst()
                let sequence = delivery.message.sequence
                guard state.pending[sequence] == nil else { continue }
                // Delivered again though this worker neither retried it nor knows it: the server heard nothing
                // within the ack wait (a worker stopped, an answer lost to a failover). It may have been made.
                let retried = state.retried.remove(sequence) != nil
                delivery.afterSilence = delivery.deliveries > 1 && !retried
                state.pending[sequence] = (ackSubject, false)
                return delivery
            }
            return nil
        }
        // Room in the buffer: the puller may ask for more.
        if taken != nil { changed.notify() }
        return (taken, [])
    }

    func started(_ sequence: UInt64) {
        state.withLock { $0.pending[sequence]?.started = true }
    }

    func deliveriesKept() async {}

    func isPending(_ sequence: UInt64) -> Bool { state.withLock { $0.pending[sequence] != nil } }

    func withdraw(_ sequence: UInt64) -> Bool {
        state.withLock { state in
            guard let entry = state.pending[sequence], !entry.started else { return false }
            state.pending[sequence] = nil
            return true
        }
    }

    func inProgress(_ sequence: UInt64, now: Int64) {
        guard let subject = state.withLock({ $0.pending[sequence]?.ackSubject }) else { return }
        jetStream.link.publish(subject, payload: Array("+WPI".utf8))
    }

    func negativeAcknowledge(_ sequence: UInt64, delay: Int64?, now: Int64) {
        let subject = state.withLock { state -> String? in
            guard let entry = state.pending.removeValue(forKey: sequence) else { return nil }
            // Bounded: a call retried here may be delivered to another machine and never come back. Forgetting
            // them all costs at most a retry counted as a possible duplicate.
            if state.retried.count >= Self.rememberedRetries { state.retried.removeAll() }
            state.retried.insert(sequence)
            return entry.ackSubject
        }
        guard let subject else { return }
        let answer = delay.map { #"-NAK {"delay": \#(max($0, 0))}"# } ?? "-NAK"
        jetStream.link.publish(subject, payload: Array(answer.utf8))
    }

    func release(_ sequence: UInt64) -> Bool {
        state.withLock { state in
            guard let entry = state.pending.removeValue(forKey: sequence) else { return false }
            state.settling[sequence] = entry.ackSubject
            return true
        }
    }

    /// Sends the ack and waits for the server to confirm it, trying again across a failover for a while. An ack
    /// that is never confirmed brings the call back after the ack wait, counted as a possible duplicate.
    func settle(_ sequence: UInt64) async {
        guard let subject = state.withLock({ $0.settling.removeValue(forKey: sequence) }) else { return }
        for _ in 0..<5 {
            if (try? await jetStream.link.request(subject, payload: Array("+ACK".utf8), timeout: .seconds(2)))
                != nil
            {
                return
            }
        }
    }

    @discardableResult
    func acknowledge(_ sequence: UInt64) async -> Bool {
        guard release(sequence) else { return false }
        await settle(sequence)
        return true
    }

    func terminate(_ sequence: UInt64) async {
        guard let entry = state.withLock({ $0.pending.removeValue(forKey: sequence) }) else { return }
        jetStream.link.publish(entry.ackSubject, payload: Array("+TERM".utf8))
    }
}
