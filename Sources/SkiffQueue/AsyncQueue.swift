import Foundation
import SkiffAPI
import SkiffHTTP
import SkiffInvoke
import SkiffMetrics
import SkiffNATSClient
import SkiffPOSIX
import SkiffStream
import Synchronization

/// The durable queues of asynchronous calls: the default `faas-request` work-queue stream and one per named
/// queue (``QueueLane``), each with the worker's consumer, and the `faas-request-dead` stream where calls that used
/// all their attempts are kept. The streams are shared with the NATS broker's JetStream when it runs, so that NATS
/// clients can queue calls too.
public final class AsyncQueue: CallQueue {
    public static let subject = QueueLane.defaultStream
    public static let deadSubject = "faas-request.dead"

    public let dead: MessageStream
    /// Callbacks waiting for their receiver (``CallbackWorker``): on disk, so that a receiver that is down when the
    /// daemon stops still gets its callback after the restart.
    public let callbacks: MessageStream
    let callbackConsumer: StreamConsumer
    /// The default queue.
    public let defaultLane: QueueLane
    /// What the worker does, for `GET /system/queue` and `/metrics`.
    public let activity = QueueActivity()
    /// Raised when a named queue is opened: its worker is to be started.
    public let lanesChanged = ChangeSignal()
    public let defaultNamespace: String
    let ackWait: Duration
    private let openStream: @Sendable (StreamConfiguration) throws -> MessageStream
    private let named = Mutex<[String: QueueLane]>([:])

    /// The default queue's stream.
    public var requests: MessageStream { defaultLane.requests }
    var consumer: StreamConsumer { defaultLane.consumer }

    public static var requestsConfiguration: StreamConfiguration { QueueLane.configuration(nil) }
    public static var deadConfiguration: StreamConfiguration {
        StreamConfiguration(name: "faas-request-dead", subjects: [deadSubject])
    }
    static let callbacksSubject = "skiff.callbacks"
    public static var callbacksConfiguration: StreamConfiguration {
        StreamConfiguration(name: "skiff-callbacks", subjects: [callbacksSubject], retention: .workQueue)
    }
    /// A stored callback's header naming where it goes; its other headers are the callback's own.
    static let callbackURLHeader = "Skiff-Callback-Url"

    /// The queues kept in `directory` (`STATE/streams`, one folder per stream), opened through `openStream` (the
    /// broker's JetStream, or the store alone): the default one, the dead letters, and every named queue found there.
    ///
    /// `ackWait` is how long a call may run before it is delivered again, unless the worker says it is still
    /// working on it (which it does at half that interval).
    public init(
        directory: String, defaultNamespace: String = "openfaas-fn", ackWait: Duration = .seconds(30),
        openStream: @escaping @Sendable (StreamConfiguration) throws -> MessageStream
    ) throws {
        self.openStream = openStream
        self.defaultNamespace = defaultNamespace
        self.ackWait = ackWait
        dead = try openStream(Self.deadConfiguration)
        callbacks = try openStream(Self.callbacksConfiguration)
        callbackConsumer = QueueLane.workerConsumer(of: callbacks, named: "skiff-callbacks", ackWait: ackWait)
        defaultLane = QueueLane(name: nil, requests: try openStream(Self.requestsConfiguration), ackWait: ackWait)
        let folders = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in folders.compactMap(QueueLane.name(ofStream:)).sorted() { _ = try localLane(name) }
    }

    /// The queue kept under `directory` (`STATE/streams`), when no broker holds the streams.
    public static func open(
        directory: String, defaultNamespace: String = "openfaas-fn", ackWait: Duration = .seconds(30)
    ) throws -> AsyncQueue {
        try AsyncQueue(directory: directory, defaultNamespace: defaultNamespace, ackWait: ackWait) { configuration in
            try MessageStream(
                directory: "\(directory)/\(configuration.name)", configuration: configuration, now: AsyncQueue.now())
        }
    }

    public var callbackSource: any WorkSource { callbackConsumer }

    @discardableResult public func lane(_ name: String?) async throws -> any CallLane { try localLane(name) }

    /// The queue named `name` (nil: the default one), opened the first time it is asked for.
    func localLane(_ name: String?) throws -> QueueLane {
        guard let name else { return defaultLane }
        if let open = named.withLock({ $0[name] }) { return open }
        let stream = try openStream(QueueLane.configuration(name))
        let (lane, opened) = named.withLock { lanes -> (QueueLane, Bool) in
            if let open = lanes[name] { return (open, false) }
            let lane = QueueLane(name: name, requests: stream, ackWait: ackWait)
            lanes[name] = lane
            return (lane, true)
        }
        if opened { lanesChanged.notify() }
        return lane
    }

    public var lanes: [any CallLane] { localLanes }

    /// Every queue open now, the default one first.
    var localLanes: [QueueLane] {
        [defaultLane] + named.withLock { $0.sorted { $0.key < $1.key }.map(\.value) }
    }

    /// The stored message's header naming the NATS subject the answer is published to. It lives on the message, not
    /// in the QueueRequest, so that an HTTP caller of `/async-function` cannot set it.
    public static let replySubjectHeader = "Skiff-Reply-Subject"
    /// A dead letter's header naming the queue it came from (none: the default one), where a retry puts it back.
    static let queueHeader = "Skiff-Queue"

    /// Stores a call on disk in the queue its `queueName` names (the default one when none).
    public func enqueue(_ request: QueueRequest, callID: String, replySubject: String?) async throws -> UInt64 {
        let lane = try localLane(try QueueLane.name(request.queueName))
        let acknowledgement = try await lane.requests.publish(
            subject: lane.subject,
            headers: HeaderBlock.encode(Self.callHeaders(callID: callID, replySubject: replySubject)),
            payload: request.json(), now: Self.now())
        if let address = try? FunctionAddress(Substring(request.function), defaultNamespace: defaultNamespace) {
            lane.remember(acknowledgement.sequence, function: address.qualified)
        }
        return acknowledgement.sequence
    }

    public func enqueueCallback(to url: String, headers: HTTPHeaders, body: [UInt8]) async throws {
        _ = try await callbacks.publish(
            subject: Self.callbacksSubject, headers: HeaderBlock.encode(Self.callbackHeaders(url: url, headers)),
            payload: body,
            now: Self.now())
    }

    public func bury(_ message: StoredMessage, from lane: any CallLane, reason: String, attempts: Int) async throws {
        _ = try await dead.publish(
            subject: Self.deadSubject,
            headers: HeaderBlock.encode(
                Self.deadLetterHeaders(message, from: lane, reason: reason, attempts: attempts)),
            payload: message.payload, now: Self.now())
    }

    // MARK: Looking and managing

    /// Calls stored and not yet done, by function, every queue together.
    func queuedByFunction() -> [String: Int] {
        var counts: [String: Int] = [:]
        for lane in localLanes {
            counts.merge(lane.queuedByFunction(reading: function(of:)), uniquingKeysWith: +)
        }
        return counts
    }

    public func summary() -> QueueSummary {
        let functions = activity.functions(queued: queuedByFunction())
        let letters = dead.log.sequences.compactMap { sequence in
            (try? self.dead.log.message(sequence)).flatMap { $0.map(deadCall) }
        }
        let queues = localLanes.map { QueueSummary.Queue(name: $0.label, queued: $0.requests.log.summary.messages) }
        return QueueSummary(
            functions: functions, dead: letters, queues: queues, callbacks: callbacks.log.summary.messages)
    }

    /// Queues dead calls again (the one with `callID`, or all of them) in the queue they came from, each with its
    /// attempts starting over.
    public func retryDead(callID: String?) async throws -> Int {
        var requeued = 0
        for sequence in dead.log.sequences {
            guard let message = try dead.log.message(sequence) else { continue }
            let headers = Self.headerFields(message.headers)
            if let callID, headers["X-Call-Id"] != callID { continue }
            let lane = try localLane((try? QueueLane.name(headers[Self.queueHeader])) ?? nil)
            _ = try await lane.requests.publish(
                subject: lane.subject,
                headers: HeaderBlock.encode(Self.headers(["X-Call-Id": headers["X-Call-Id"] ?? CallID.make()])),
                payload: message.payload, now: Self.now())
            _ = try await dead.log.delete(sequence)
            requeued += 1
        }
        return requeued
    }

    /// Removes a function's calls that the worker has not taken yet; returns how many.
    ///
    /// Calls the worker holds for the function's turn are taken back too (they were never started); calls being
    /// made are left to finish. Deletions go to disk together, in batches (one sync each, not one per call).
    public func purge(function: FunctionAddress) async throws -> Int {
        var removed = 0
        for lane in localLanes {
            var doomed: [UInt64] = []
            for sequence in lane.requests.log.sequences {
                guard let message = try lane.requests.log.message(sequence),
                    self.function(of: message.payload) == function.qualified
                else { continue }
                // Delivered and started (being made): left to finish. Anything else goes, whether the worker holds
                // it or has not taken it yet.
                if lane.consumer.withdraw(sequence) || !lane.consumer.isPending(sequence) { doomed.append(sequence) }
            }
            for start in stride(from: 0, to: doomed.count, by: 1024) {
                let batch = doomed[start..<min(start + 1024, doomed.count)]
                removed += try await withThrowingTaskGroup(of: Bool.self) { group in
                    for sequence in batch { group.addTask { try await lane.requests.log.delete(sequence) } }
                    return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
                // Taken by the worker while the purge ran, and not started: taken back too. (Without this, such a
                // call stayed held and was made later though its message was gone.)
                for sequence in batch { _ = lane.consumer.withdraw(sequence) }
            }
            lane.purged.notify()
        }
        return removed
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e9) }

    /// NATS headers, in name order.
    static func headers(_ fields: [String: String]) -> [NATSHeader] {
        fields.sorted { $0.key < $1.key }.map { NATSHeader($0.key, $0.value) }
    }

    /// The fields of a NATS header block (the status line skipped; a name given twice keeps its last value).
    static func headerFields(_ block: [UInt8]) -> [String: String] {
        var fields: [String: String] = [:]
        for header in HeaderBlock.decode(block[...])?.headers ?? [] { fields[header.name] = header.value }
        return fields
    }
}

extension AsyncQueue: MetricsCollector {
    public func collect() async -> [MetricFamily] {
        var callbacksWaiting = MetricFamily(
            "skiff_queue_callbacks_waiting", .gauge,
            help: "Callbacks of finished calls stored and not yet delivered (their receiver refused or was down).")
        callbacksWaiting.add([], Double(callbacks.log.summary.messages))
        return activity.families(queued: queuedByFunction()) + [callbacksWaiting]
    }
}
