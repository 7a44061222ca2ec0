import Foundation
import SkiffAPI
import SkiffHTTP
import SkiffInvoke
import SkiffMetrics
import SkiffNATSClient
import SkiffPOSIX
import SkiffStream

/// The queues of asynchronous calls as the gateway, the triggers and the workers use them, wherever they are kept:
/// in this process's store (``AsyncQueue``, the default) or on a NATS server or cluster with JetStream
/// (``ClusterQueue``, `--queue nats://…`, so that several machines share one queue).
public protocol CallQueue: MetricsCollector, Sendable {
    /// What the workers do, for `GET /system/queue` and `/metrics`.
    var activity: QueueActivity { get }
    /// The namespace of a call that names none (`NAME` rather than `NAME.NAMESPACE`).
    var defaultNamespace: String { get }
    /// Every queue open now, the default one first.
    var lanes: [any CallLane] { get }
    /// Raised when a named queue is opened: its worker is to be started.
    var lanesChanged: ChangeSignal { get }
    /// The stored callbacks that ``CallbackWorker`` delivers.
    var callbackSource: any WorkSource { get }
    /// The queue named `name` (nil: the default one), opened the first time it is asked for.
    @discardableResult func lane(_ name: String?) async throws -> any CallLane
    /// Stores a call in the queue its `queueName` names; returns once it is kept (a full disk, a broken store or an
    /// unreachable cluster throws, and nothing is queued). With `replySubject`, the answer is also published there.
    func enqueue(_ request: QueueRequest, callID: String, replySubject: String?) async throws -> UInt64
    /// Keeps a callback until ``CallbackWorker`` has delivered it; returns once it is kept.
    func enqueueCallback(to url: String, headers: HTTPHeaders, body: [UInt8]) async throws
    /// Keeps a call that used its attempts (or cannot be read) where `skiff queue` finds it, with why.
    func bury(_ message: StoredMessage, from lane: any CallLane, reason: String, attempts: Int) async throws
    /// What `GET /system/queue` answers.
    func summary() async throws -> QueueSummary
    /// Queues dead calls again (the one with `callID`, or all of them) where they came from; returns how many.
    func retryDead(callID: String?) async throws -> Int
    /// Removes a function's calls that no worker has started; returns how many.
    func purge(function: FunctionAddress) async throws -> Int
}

/// One queue: where its worker takes calls from.
public protocol CallLane: Sendable {
    /// nil for the default queue.
    var name: String? { get }
    var source: any WorkSource { get }
    /// Raised by every purge: the worker then drops the calls it holds that were taken back.
    var purged: ChangeSignal { get }
}

extension CallLane {
    /// What `skiff queue` and the logs call it.
    public var label: String { name ?? QueueLane.defaultStream }
    /// The subject its calls are published on.
    public var subject: String { QueueLane.subject(name) }
}

extension CallQueue {
    public func enqueue(_ request: QueueRequest, callID: String) async throws -> UInt64 {
        try await enqueue(request, callID: callID, replySubject: nil)
    }

    /// A stored call and the function it is for; nil when the payload is not a call of a valid function. The one
    /// place a payload is read: the worker makes the call from what this gives, `skiff queue` and purge name the
    /// function from it.
    func call(in payload: [UInt8]) -> (request: QueueRequest, function: FunctionAddress)? {
        guard let request = try? QueueRequest(json: payload),
            let address = try? FunctionAddress(Substring(request.function), defaultNamespace: defaultNamespace)
        else { return nil }
        return (request, address)
    }

    /// The function a stored call is for, as `name.namespace`; nil when the payload is not a call.
    func function(of payload: [UInt8]) -> String? { call(in: payload)?.function.qualified }

    // The headers below are NATS headers: the cluster publishes them as they are, the embedded store keeps them
    // encoded (`HeaderBlock.encode`).

    /// The headers a call is stored with: its id, and where its answer is published for a NATS request.
    static func callHeaders(callID: String, replySubject: String?) -> [NATSHeader] {
        var fields = ["X-Call-Id": callID]
        if let replySubject { fields[AsyncQueue.replySubjectHeader] = replySubject }
        return AsyncQueue.headers(fields)
    }

    /// A dead letter's headers: the call's own, and where it came from, why it died, and after how many attempts.
    static func deadLetterHeaders(
        _ message: StoredMessage, from lane: any CallLane, reason: String, attempts: Int
    ) -> [NATSHeader] {
        var headers = AsyncQueue.headerFields(message.headers)
        if let name = lane.name { headers[AsyncQueue.queueHeader] = name }
        headers["Skiff-Dead-Reason"] = reason.replacingOccurrences(of: "\r", with: " ")
            .replacingOccurrences(of: "\n", with: " ")
        headers["Skiff-Attempts"] = String(attempts)
        headers["Skiff-Queued-Sequence"] = String(message.sequence)
        return AsyncQueue.headers(headers)
    }

    /// A dead letter as `skiff queue` lists it.
    func deadCall(_ message: StoredMessage) -> QueueSummary.DeadCall {
        let headers = AsyncQueue.headerFields(message.headers)
        return QueueSummary.DeadCall(
            callId: headers["X-Call-Id"] ?? "", function: function(of: message.payload) ?? "unreadable",
            reason: headers["Skiff-Dead-Reason"] ?? "", attempts: Int(headers["Skiff-Attempts"] ?? "") ?? 0,
            queuedAt: ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(message.time) / 1e9)))
    }

    /// A callback as it is stored: where it goes in a header of its own, then the callback's headers.
    static func callbackHeaders(url: String, _ headers: HTTPHeaders) -> [NATSHeader] {
        [NATSHeader(AsyncQueue.callbackURLHeader, url)] + headers.map { NATSHeader($0.name, $0.value) }
    }
}
