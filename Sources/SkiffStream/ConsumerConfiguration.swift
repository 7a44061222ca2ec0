/// A durable pull consumer's configuration as clients send it to `$JS.API.CONSUMER.CREATE` (JetStream's JSON
/// names and defaults). Skiff serves the subset a work queue needs: explicit acks, delivery of everything, pull.
public struct ConsumerConfiguration: Codable, Sendable, Equatable {
    public var name: String
    /// Nanoseconds a delivery may stay unacknowledged before it is delivered again.
    public var ackWait: Int64
    /// Deliveries at most, the first included; -1: no limit.
    public var maxDeliver: Int
    /// Unacknowledged deliveries at most, across all pullers: the concurrency of a work queue.
    public var maxAckPending: Int
    /// Pull requests waiting at once at most; one more is refused with `409 Exceeded MaxWaiting`.
    public var maxWaiting: Int
    public var filterSubject: String?
    /// Waits between deliveries, in nanoseconds: the n-th redelivery waits `backoff[n-1]` (the last repeats)
    /// instead of `ackWait`.
    public var backoff: [Int64]
    public var ackPolicy: String
    public var deliverPolicy: String

    public init(name: String, filterSubject: String? = nil) {
        self.name = name
        self.filterSubject = filterSubject
        ackWait = 30_000_000_000
        maxDeliver = -1
        maxAckPending = 1000
        maxWaiting = 512
        backoff = []
        ackPolicy = "explicit"
        deliverPolicy = "all"
    }

    enum CodingKeys: String, CodingKey {
        case name, backoff
        case durableName = "durable_name"
        case ackWait = "ack_wait"
        case maxDeliver = "max_deliver"
        case maxAckPending = "max_ack_pending"
        case maxWaiting = "max_waiting"
        case filterSubject = "filter_subject"
        case ackPolicy = "ack_policy"
        case deliverPolicy = "deliver_policy"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let durable = try container.decodeIfPresent(String.self, forKey: .durableName)
        let name = try container.decodeIfPresent(String.self, forKey: .name)
        self.init(
            name: durable ?? name ?? "",
            filterSubject: try container.decodeIfPresent(String.self, forKey: .filterSubject))
        if filterSubject?.isEmpty == true { filterSubject = nil }
        let wait = try container.decodeIfPresent(Int64.self, forKey: .ackWait) ?? 0
        ackWait = wait > 0 ? wait : ackWait
        maxDeliver = try container.decodeIfPresent(Int.self, forKey: .maxDeliver) ?? maxDeliver
        if maxDeliver == 0 { maxDeliver = -1 }
        let pending = try container.decodeIfPresent(Int.self, forKey: .maxAckPending) ?? 0
        maxAckPending = pending > 0 ? pending : maxAckPending
        let waiting = try container.decodeIfPresent(Int.self, forKey: .maxWaiting) ?? 0
        maxWaiting = waiting > 0 ? waiting : maxWaiting
        backoff = try container.decodeIfPresent([Int64].self, forKey: .backoff) ?? []
        ackPolicy = try container.decodeIfPresent(String.self, forKey: .ackPolicy) ?? ackPolicy
        deliverPolicy = try container.decodeIfPresent(String.self, forKey: .deliverPolicy) ?? deliverPolicy
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .durableName)
        try container.encode(name, forKey: .name)
        try container.encode(ackWait, forKey: .ackWait)
        try container.encode(maxDeliver, forKey: .maxDeliver)
        try container.encode(maxAckPending, forKey: .maxAckPending)
        try container.encode(maxWaiting, forKey: .maxWaiting)
        try container.encodeIfPresent(filterSubject, forKey: .filterSubject)
        if !backoff.isEmpty { try container.encode(backoff, forKey: .backoff) }
        try container.encode(ackPolicy, forKey: .ackPolicy)
        try container.encode(deliverPolicy, forKey: .deliverPolicy)
    }

    /// Why it cannot consume from a stream with `retention`, with JetStream's code and words; nil when it can.
    public func problem(on retention: StreamConfiguration.Retention) -> (code: Int, description: String)? {
        if name.isEmpty || name.contains(where: { " .*>\t\r\n/\\".contains($0) }) {
            return (10133, "consumer name is required and can not contain '.', '*', '>'")
        }
        if ackPolicy != "explicit" {
            return retention == .workQueue
                ? (10084, "workqueue stream requires explicit ack") : (10098, "only explicit acks are supported here")
        }
        if deliverPolicy != "all" {
            return (10101, "workqueue stream requires deliver policy of all")
        }
        if !backoff.isEmpty && maxDeliver >= 0 && backoff.count >= maxDeliver {
            return (10116, "max deliver is required to be > length of backoff values")
        }
        return nil
    }

    /// The wait after the delivery numbered `deliveries` (1 for the first).
    func wait(afterDelivery deliveries: Int) -> Int64 {
        guard !backoff.isEmpty else { return ackWait }
        return backoff[min(max(deliveries - 1, 0), backoff.count - 1)]
    }
}
