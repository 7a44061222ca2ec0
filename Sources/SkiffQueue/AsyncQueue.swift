import Foundation
import SkiffAPI
import SkiffInvoke
import SkiffMetrics
import SkiffNATSClient
import SkiffPOSIX
import SkiffStream
import Synchronization

/// The durable queue of asynchronous calls: the `faas-request` work-queue stream (shared with the NATS broker's
/// JetStream when it runs, so that NATS clients can queue calls too), the worker's consumer of it, and the
/// `faas-request-dead` stream where calls that used all their attempts are kept.
public final class AsyncQueue: Sendable {
    public static let subject = "faas-request"
    public static let deadSubject = "faas-request.dead"

    public let requests: MessageStream
    public let dead: MessageStream
    let consumer: StreamConsumer
    /// What the worker does, for `GET /system/queue` and `/metrics`.
    public let activity = QueueActivity()
    /// The namespace of a call that names none (`NAME` rather than `NAME.NAMESPACE`).
    let defaultNamespace: String
    /// The function (`name.namespace`) of each stored call, read once per call: `/metrics` asks every few seconds.
    private let functions = Mutex<[UInt64: String]>([:])

    /// The two streams' configurations, for whoever opens them (the broker's JetStream, or ``open(directory:)``).
    public static var requestsConfiguration: StreamConfiguration {
        StreamConfiguration(name: "faas-request", subjects: [subject], retention: .workQueue)
    }
    public static var deadConfiguration: StreamConfiguration {
        StreamConfiguration(name: "faas-request-dead", subjects: [deadSubject])
    }

    /// `ackWait` is how long a call may run before it is delivered again, unless the worker says it is still
    /// working on it (which it does at half that interval).
    public init(
        requests: MessageStream, dead: MessageStream, defaultNamespace: String = "openfaas-fn",
        ackWait: Duration = .seconds(30)
    ) {
        self.requests = requests
        self.dead = dead
        self.defaultNamespace = defaultNamespace
        var configuration = ConsumerConfiguration(name: "skiff-worker")
        configuration.ackWait = Int64(ackWait.nanoseconds)
        // Held calls cost a sequence number each (their bodies stay on disk until dispatched).
        configuration.maxAckPending = 100_000
        consumer = StreamConsumer(
            stream: requests, configuration: configuration,
            stateFile: "\(DurableFile.parent(of: requests.log.directory))/consumers/skiff-worker.state", now: Self.now()
        )
    }

    /// The queue kept under `directory` (`STATE/streams`), when no broker holds the streams.
    public static func open(
        directory: String, defaultNamespace: String = "openfaas-fn", ackWait: Duration = .seconds(30)
    ) throws -> AsyncQueue {
        let now = now()
        return AsyncQueue(
            requests: try MessageStream(
                directory: "\(directory)/faas-request", configuration: requestsConfiguration, now: now),
            dead: try MessageStream(
                directory: "\(directory)/faas-request-dead", configuration: deadConfiguration, now: now),
            defaultNamespace: defaultNamespace, ackWait: ackWait)
    }

    /// The stored message's header naming the NATS subject the answer is published to. It lives on the message, not
    /// in the QueueRequest, so that an HTTP caller of `/async-function` cannot set it.
    public static let replySubjectHeader = "Skiff-Reply-Subject"

    /// Stores a call; returns once it is on disk (a full disk or a broken store throws, and nothing is queued).
    /// With `replySubject`, the answer is also published there (a NATS request to a subject trigger).
    public func enqueue(_ request: QueueRequest, callID: String, replySubject: String? = nil) async throws -> UInt64 {
        let payload = request.json()
        var fields = ["X-Call-Id": callID]
        if let replySubject { fields[Self.replySubjectHeader] = replySubject }
        let acknowledgement = try await requests.publish(
            subject: Self.subject, headers: Self.headers(fields), payload: payload, now: Self.now())
        return acknowledgement.sequence
    }

    /// Keeps a call that used its attempts (or cannot be read) where `skiff queue` finds it, with why.
    func bury(_ message: StoredMessage, reason: String, attempts: Int) async throws {
        var headers = Self.headerFields(message.headers)
        headers["Skiff-Dead-Reason"] = reason.replacingOccurrences(of: "\r", with: " ")
            .replacingOccurrences(of: "\n", with: " ")
        headers["Skiff-Attempts"] = String(attempts)
        headers["Skiff-Queued-Sequence"] = String(message.sequence)
        _ = try await dead.publish(
            subject: Self.deadSubject, headers: Self.headers(headers), payload: message.payload, now: Self.now())
    }

    // MARK: Looking and managing

    /// A stored call and the function it is for; nil when the payload is not a call of a valid function. The one
    /// place a payload is read: the worker makes the call from what this gives, `skiff queue` and purge name the
    /// function from it.
    func call(in payload: [UInt8]) -> (request: QueueRequest, function: FunctionAddress)? {
        guard let request = try? JSONDecoder().decode(QueueRequest.self, from: Data(payload)),
            let address = try? FunctionAddress(Substring(request.function), defaultNamespace: defaultNamespace)
        else { return nil }
        return (request, address)
    }

    /// The function a stored call is for, as `name.namespace`; nil when the payload is not a call.
    func function(of payload: [UInt8]) -> String? { call(in: payload)?.function.qualified }

    /// Calls stored and not yet done, by function (every call read once, then remembered by its sequence).
    func queuedByFunction() -> [String: Int] {
        let live = requests.log.sequences
        let known = functions.withLock { $0 }
        var found: [UInt64: String] = [:]
        for sequence in live where known[sequence] == nil {
            if let message = try? requests.log.message(sequence) {
                found[sequence] = function(of: message.payload) ?? "unreadable"
            }
        }
        let current = functions.withLock { functions -> [UInt64: String] in
            functions.merge(found) { $1 }
            let keep = Set(live)
            functions = functions.filter { keep.contains($0.key) }
            return functions
        }
        var counts: [String: Int] = [:]
        for function in current.values { counts[function, default: 0] += 1 }
        return counts
    }

    /// What `GET /system/queue` answers.
    public func summary() -> QueueSummary {
        let queued = queuedByFunction()
        let counts = activity.counts
        let functions = Set(queued.keys).union(counts.keys).sorted().map { key -> QueueSummary.Function in
            let dot = key.lastIndex(of: ".") ?? key.endIndex
            let count = counts[key]
            return QueueSummary.Function(
                name: String(key[..<dot]), namespace: dot < key.endIndex ? String(key[key.index(after: dot)...]) : "",
                queued: queued[key] ?? 0, inFlight: count?.inFlight ?? 0, retries: count?.retries ?? 0,
                deadLetters: count?.dead ?? 0, redelivered: count?.redelivered ?? 0)
        }
        let letters = dead.log.sequences.compactMap { sequence -> QueueSummary.DeadCall? in
            guard let message = try? self.dead.log.message(sequence) else { return nil }
            let headers = Self.headerFields(message.headers)
            return QueueSummary.DeadCall(
                callId: headers["X-Call-Id"] ?? "", function: function(of: message.payload) ?? "unreadable",
                reason: headers["Skiff-Dead-Reason"] ?? "", attempts: Int(headers["Skiff-Attempts"] ?? "") ?? 0,
                queuedAt: ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(message.time) / 1e9)))
        }
        return QueueSummary(functions: functions, dead: letters)
    }

    /// Queues dead calls again (the one with `callID`, or all of them), each with its attempts starting over.
    public func retryDead(callID: String?) async throws -> Int {
        var requeued = 0
        for sequence in dead.log.sequences {
            guard let message = try dead.log.message(sequence) else { continue }
            let headers = Self.headerFields(message.headers)
            if let callID, headers["X-Call-Id"] != callID { continue }
            _ = try await requests.publish(
                subject: Self.subject, headers: Self.headers(["X-Call-Id": headers["X-Call-Id"] ?? CallID.make()]),
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
        let cursor = consumer.cursor
        var doomed: [UInt64] = []
        for sequence in requests.log.sequences {
            guard let message = try requests.log.message(sequence),
                self.function(of: message.payload) == function.qualified
            else { continue }
            if sequence > cursor || consumer.withdraw(sequence) { doomed.append(sequence) }
        }
        var removed = 0
        for start in stride(from: 0, to: doomed.count, by: 1024) {
            let batch = doomed[start..<min(start + 1024, doomed.count)]
            removed += try await withThrowingTaskGroup(of: Bool.self) { group in
                for sequence in batch { group.addTask { try await self.requests.log.delete(sequence) } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
        }
        return removed
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e9) }

    /// A NATS header block, the fields in name order.
    static func headers(_ fields: [String: String]) -> [UInt8] {
        HeaderBlock.encode(fields.sorted { $0.key < $1.key }.map { NATSHeader($0.key, $0.value) })
    }

    /// The fields of a NATS header block (the status line skipped; a name given twice keeps its last value).
    static func headerFields(_ block: [UInt8]) -> [String: String] {
        var fields: [String: String] = [:]
        for header in HeaderBlock.decode(block[...])?.headers ?? [] { fields[header.name] = header.value }
        return fields
    }
}

extension AsyncQueue: MetricsCollector {
    public func collect() async -> [MetricFamily] { activity.families(queued: queuedByFunction()) }
}
