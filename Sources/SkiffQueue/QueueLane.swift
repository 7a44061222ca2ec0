import Foundation
import SkiffPOSIX
import SkiffStream
import Synchronization

/// One queue of asynchronous calls: a work-queue stream and the worker's consumer of it. The default queue is
/// OpenFaaS's `faas-request`; a function annotated `com.openfaas.queue: NAME` has its calls kept in a queue of
/// their own (stream `faas-request-queue-NAME`, subject `faas-request.queue.NAME`) with a worker of its own, so
/// that a backlog in one queue never delays the calls of another.
public final class QueueLane: CallLane {
    /// The annotation that names a function's queue, as OpenFaaS spells it.
    public static let annotation = "com.openfaas.queue"
    static let defaultStream = "faas-request"
    static let namedStreamPrefix = "faas-request-queue-"

    /// nil for the default queue.
    public let name: String?
    public let requests: MessageStream
    let consumer: StreamConsumer
    public let purged = ChangeSignal()
    public var source: any WorkSource { consumer }
    /// The function (`name.namespace`) of each stored call, read once per call: `/metrics` asks every few seconds.
    private let functions = Mutex<[UInt64: String]>([:])

    init(name: String?, requests: MessageStream, ackWait: Duration) {
        self.name = name
        self.requests = requests
        consumer = Self.workerConsumer(of: requests, named: "skiff-worker", ackWait: ackWait)
    }

    /// A worker's durable consumer of `stream`, its state kept beside the stream's log.
    static func workerConsumer(of stream: MessageStream, named name: String, ackWait: Duration) -> StreamConsumer {
        var configuration = ConsumerConfiguration(name: name)
        configuration.ackWait = Int64(ackWait.nanoseconds)
        // Held calls cost a sequence number each (their bodies stay on disk until dispatched).
        configuration.maxAckPending = 100_000
        return StreamConsumer(
            stream: stream, configuration: configuration,
            stateFile: "\(DurableFile.parent(of: stream.log.directory))/consumers/\(name).state", now: AsyncQueue.now())
    }

    static func subject(_ name: String?) -> String { name.map { "faas-request.queue.\($0)" } ?? Self.defaultStream }

    /// The stream that keeps the queue's calls.
    static func configuration(_ name: String?) -> StreamConfiguration {
        StreamConfiguration(
            name: name.map { Self.namedStreamPrefix + $0 } ?? defaultStream, subjects: [subject(name)],
            retention: .workQueue)
    }

    /// The queue a function's annotations name: nil for the default one (no annotation, an empty one, or
    /// `faas-request` itself). Throws for a name that cannot be a stream's: refused at deploy.
    public static func name(annotations: [String: String]) throws(QueueNameError) -> String? {
        try name(annotations[annotation])
    }

    /// A queue's name as given (an annotation, a queued call's `QueueName`), checked.
    static func name(_ text: String?) throws(QueueNameError) -> String? {
        guard let given = text?.trimmingCharacters(in: .whitespaces), !given.isEmpty, given != defaultStream else {
            return nil
        }
        guard given.utf8.count <= 64,
            given.utf8.allSatisfy({ $0.isASCIILetterOrDigit || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") })
        else {
            throw QueueNameError(
                description: "\(annotation) must be 1 to 64 letters, digits, '-' or '_': \(given.debugDescription)")
        }
        return given
    }

    /// The named queue a stream of the store holds; nil for any other stream.
    static func name(ofStream stream: String) -> String? {
        guard stream.hasPrefix(namedStreamPrefix) else { return nil }
        let name = String(stream.dropFirst(namedStreamPrefix.count))
        return (try? Self.name(name)) ?? nil
    }

    /// Notes the function of a call just stored (so that counting the queue need not read it back).
    func remember(_ sequence: UInt64, function: String) {
        functions.withLock { $0[sequence] = function }
    }

    /// Calls stored and not yet done, by function (each call read once, then remembered by its sequence).
    func queuedByFunction(reading function: (_ payload: [UInt8]) -> String?) -> [String: Int] {
        let live = requests.log.sequences
        let known = functions.withLock { $0 }
        var found: [UInt64: String] = [:]
        for sequence in live where known[sequence] == nil {
            if let message = try? requests.log.message(sequence) {
                found[sequence] = function(message.payload) ?? "unreadable"
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
}

/// A `com.openfaas.queue` annotation that cannot name a queue.
public struct QueueNameError: Error, CustomStringConvertible {
    public let description: String
}

extension UInt8 {
    fileprivate var isASCIILetterOrDigit: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}
