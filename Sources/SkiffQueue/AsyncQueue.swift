import Foundation
import SkiffPOSIX
import SkiffStream

/// The durable queue of asynchronous calls: the `faas-request` work-queue stream (shared with the NATS broker's
/// JetStream when it runs, so that NATS clients can queue calls too), the worker's consumer of it, and the
/// `faas-request-dead` stream where calls that used all their attempts are kept.
public final class AsyncQueue: Sendable {
    public static let subject = "faas-request"
    public static let deadSubject = "faas-request.dead"

    public let requests: MessageStream
    public let dead: MessageStream
    let consumer: StreamConsumer

    /// The two streams' configurations, for whoever opens them (the broker's JetStream, or ``open(directory:)``).
    public static var requestsConfiguration: StreamConfiguration {
        StreamConfiguration(name: "faas-request", subjects: [subject], retention: .workQueue)
    }
    public static var deadConfiguration: StreamConfiguration {
        StreamConfiguration(name: "faas-request-dead", subjects: [deadSubject])
    }

    /// `ackWait` is how long a call may run before it is delivered again, unless the worker says it is still
    /// working on it (which it does at half that interval).
    public init(requests: MessageStream, dead: MessageStream, ackWait: Duration = .seconds(30)) {
        self.requests = requests
        self.dead = dead
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
    public static func open(directory: String, ackWait: Duration = .seconds(30)) throws -> AsyncQueue {
        let now = now()
        return AsyncQueue(
            requests: try MessageStream(
                directory: "\(directory)/faas-request", configuration: requestsConfiguration, now: now),
            dead: try MessageStream(
                directory: "\(directory)/faas-request-dead", configuration: deadConfiguration, now: now),
            ackWait: ackWait)
    }

    /// Stores a call; returns once it is on disk (a full disk or a broken store throws, and nothing is queued).
    public func enqueue(_ request: QueueRequest, callID: String) async throws -> UInt64 {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        let payload = Array(try encoder.encode(request))
        let acknowledgement = try await requests.publish(
            subject: Self.subject, headers: Self.headers(["X-Call-Id": callID]), payload: payload, now: Self.now())
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

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e9) }

    /// A NATS header block.
    static func headers(_ fields: [String: String]) -> [UInt8] {
        var text = "NATS/1.0\r\n"
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) { text += "\(name): \(value)\r\n" }
        return Array((text + "\r\n").utf8)
    }

    /// The fields of a NATS header block (the status line skipped).
    static func headerFields(_ block: [UInt8]) -> [String: String] {
        var fields: [String: String] = [:]
        for line in String(decoding: block, as: UTF8.self).split(separator: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            fields[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }
}
