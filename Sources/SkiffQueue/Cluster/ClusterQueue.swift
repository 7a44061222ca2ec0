import Foundation
import SkiffAPI
import SkiffHTTP
import SkiffInvoke
import SkiffMetrics
import SkiffNATSClient
import SkiffPOSIX
import SkiffStream
import Synchronization

/// The queues of asynchronous calls kept on a NATS server or cluster with JetStream (`--queue nats://…`) rather
/// than in this process: the same streams and subjects as the embedded store (`faas-request`, one per named queue,
/// `faas-request-dead`, `skiff-callbacks`), replicated on up to three servers, and the same durable consumers.
/// Several Skiff machines given the same `--queue` share the queues: each call is made by one of them, and a
/// machine that stops leaves its calls to the others after the ack wait. The worker is a NATS client like any
/// other; a server that dies (a stream's leader) is left for the next, and what was acknowledged is not lost.
public final class ClusterQueue: CallQueue {
    public let activity = QueueActivity()
    public let defaultNamespace: String
    public let lanesChanged = ChangeSignal()
    public let address: ClusterAddress
    let jetStream: ClusterJetStream
    let replicas: Int
    let ackWait: Int64
    let defaultLane: ClusterLane
    let callbacks: ClusterConsumer
    private let named = Mutex<[String: ClusterLane]>([:])

    static let callbacksStream = AsyncQueue.callbacksConfiguration
    static let workerName = "skiff-worker"
    /// Deliveries waiting for their answer at once, every machine together: each holds at most its worker's
    /// calls in flight and held, and a buffer.
    static let maxAckPending = 20_000

    private init(address: ClusterAddress, jetStream: ClusterJetStream, defaultNamespace: String, ackWait: Duration) {
        self.address = address
        self.jetStream = jetStream
        self.defaultNamespace = defaultNamespace
        self.ackWait = Int64(ackWait.nanoseconds)
        replicas = min(3, address.servers.count)
        defaultLane = ClusterLane(name: nil, jetStream: jetStream, ackWait: self.ackWait)
        callbacks = ClusterConsumer(
            stream: Self.callbacksStream.name, durable: Self.callbacksStream.name, jetStream: jetStream,
            ackWait: self.ackWait)
    }

    /// Connects to the cluster and makes the streams and consumers the queue needs (those that exist are used as
    /// they are); throws when no server answers or JetStream refuses.
    public static func connect(
        _ address: ClusterAddress, loop: EventLoop, defaultNamespace: String = "openfaas-fn",
        ackWait: Duration = .seconds(30)
    ) async throws -> ClusterQueue {
        let jetStream = ClusterJetStream(link: ClusterLink(address: address, loop: loop))
        let queue = ClusterQueue(
            address: address, jetStream: jetStream, defaultNamespace: defaultNamespace, ackWait: ackWait)
        try await queue.prepare(queue.defaultLane)
        try await jetStream.ensureStream(AsyncQueue.deadConfiguration, replicas: queue.replicas)
        try await jetStream.ensureStream(callbacksStream, replicas: queue.replicas)
        try await jetStream.ensureConsumer(
            stream: callbacksStream.name, durable: callbacksStream.name, ackWait: queue.ackWait,
            maxAckPending: maxAckPending)
        return queue
    }

    private func prepare(_ lane: ClusterLane) async throws {
        try await jetStream.ensureStream(lane.configuration, replicas: replicas)
        try await jetStream.ensureConsumer(
            stream: lane.configuration.name, durable: Self.workerName, ackWait: ackWait,
            maxAckPending: Self.maxAckPending)
    }

    // MARK: CallQueue

    public var lanes: [any CallLane] { [defaultLane] + named.withLock { $0.sorted { $0.key < $1.key }.map(\.value) } }

    public var callbackSource: any WorkSource { callbacks }

    @discardableResult public func lane(_ name: String?) async throws -> any CallLane { try await clusterLane(name) }

    private func clusterLane(_ name: String?) async throws -> ClusterLane {
        guard let name else { return defaultLane }
        if let open = named.withLock({ $0[name] }) { return open }
        let lane = ClusterLane(name: name, jetStream: jetStream, ackWait: ackWait)
        try await prepare(lane)
        let (chosen, opened) = named.withLock { lanes -> (ClusterLane, Bool) in
            if let open = lanes[name] { return (open, false) }
            lanes[name] = lane
            return (lane, true)
        }
        if opened { lanesChanged.notify() }
        return chosen
    }

    public func enqueue(_ request: QueueRequest, callID: String, replySubject: String?) async throws -> UInt64 {
        let lane = try await clusterLane(try QueueLane.name(request.queueName))
        let headers = Self.callHeaders(callID: callID, replySubject: replySubject)
        // A fresh id of its own, not the caller's call id (callers may reuse theirs): tried again after a lost
        // answer, the call is stored once.
        return try await jetStream.publish(
            subject: lane.subject, headers: headers, payload: request.json(), messageID: UUID().uuidString)
    }

    public func enqueueCallback(to url: String, headers: HTTPHeaders, body: [UInt8]) async throws {
        _ = try await jetStream.publish(
            subject: Self.callbacksStream.subjects[0], headers: Self.callbackHeaders(url: url, headers),
            payload: body, messageID: UUID().uuidString)
    }

    public func bury(_ message: StoredMessage, from lane: any CallLane, reason: String, attempts: Int) async throws {
        _ = try await jetStream.publish(
            subject: AsyncQueue.deadSubject,
            headers: Self.deadLetterHeaders(message, from: lane, reason: reason, attempts: attempts),
            payload: message.payload, messageID: UUID().uuidString)
    }

    /// Dead letters listed at most (each is read with a request of its own).
    static let listedDead = 1000

    /// Calls per function are what this machine's worker holds (the cluster is not read call by call for it); the
    /// queues' totals and the dead letters are the cluster's.
    public func summary() async throws -> QueueSummary {
        var queues: [QueueSummary.Queue] = []
        for case let lane as ClusterLane in lanes {
            queues.append(
                QueueSummary.Queue(
                    name: lane.label, queued: try await jetStream.state(of: lane.configuration.name).messages))
        }
        let dead = try await deadLetters(upTo: Self.listedDead).map { deadCall($0) }
        let callbacksWaiting = try await jetStream.state(of: Self.callbacksStream.name).messages
        return QueueSummary(
            functions: activity.functions(queued: activity.held), dead: dead, queues: queues,
            callbacks: callbacksWaiting)
    }

    private func deadLetters(upTo limit: Int) async throws -> [StoredMessage] {
        let state = try await jetStream.state(of: AsyncQueue.deadConfiguration.name)
        guard state.messages > 0 else { return [] }
        var letters: [StoredMessage] = []
        var sequence = state.first
        while sequence <= state.last && letters.count < limit {
            if let message = try await jetStream.message(sequence, in: AsyncQueue.deadConfiguration.name) {
                letters.append(message)
            }
            sequence += 1
        }
        return letters
    }

    public func retryDead(callID: String?) async throws -> Int {
        var requeued = 0
        for message in try await deadLetters(upTo: .max) {
            let headers = AsyncQueue.headerFields(message.headers)
            if let callID, headers["X-Call-Id"] != callID { continue }
            let lane = try await clusterLane((try? QueueLane.name(headers[AsyncQueue.queueHeader])) ?? nil)
            _ = try await jetStream.publish(
                subject: lane.subject,
                headers: [NATSHeader("X-Call-Id", headers["X-Call-Id"] ?? CallID.make())], payload: message.payload,
                messageID: UUID().uuidString)
            try await jetStream.delete(message.sequence, in: AsyncQueue.deadConfiguration.name)
            requeued += 1
        }
        return requeued
    }

    /// Reads each stored call of every queue and deletes the function's, except those this machine's worker has
    /// started. (Another machine's worker may be making one: it finishes, and its ack finds the call gone.)
    public func purge(function: FunctionAddress) async throws -> Int {
        var removed = 0
        for case let lane as ClusterLane in lanes {
            let stream = lane.configuration.name
            let state = try await jetStream.state(of: stream)
            guard state.messages > 0 else { continue }
            var sequence = state.first
            while sequence <= state.last {
                defer { sequence += 1 }
                guard let message = try await jetStream.message(sequence, in: stream),
                    self.function(of: message.payload) == function.qualified
                else { continue }
                if lane.consumer.withdraw(sequence) || !lane.consumer.isPending(sequence) {
                    if try await jetStream.delete(sequence, in: stream) { removed += 1 }
                }
            }
            lane.purged.notify()
        }
        return removed
    }

    public func collect() async -> [MetricFamily] { activity.families(queued: activity.held) }
}

/// One queue on the cluster: its stream and the worker's consumer of it.
final class ClusterLane: CallLane {
    let name: String?
    let configuration: StreamConfiguration
    let consumer: ClusterConsumer
    let purged = ChangeSignal()
    var source: any WorkSource { consumer }

    init(name: String?, jetStream: ClusterJetStream, ackWait: Int64) {
        self.name = name
        configuration = QueueLane.configuration(name)
        consumer = ClusterConsumer(
            stream: configuration.name, durable: ClusterQueue.workerName, jetStream: jetStream, ackWait: ackWait)
    }
}
