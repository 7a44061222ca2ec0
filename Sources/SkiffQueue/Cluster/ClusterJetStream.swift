import Foundation
import SkiffNATSClient
import SkiffStream

/// The few JetStream API requests the queue makes of a NATS cluster (nats.md §11), each tried again while the
/// cluster answers nothing or "no responders" (a stream whose leader is being elected), up to a bound.
struct ClusterJetStream: Sendable {
    let link: ClusterLink
    /// How long one request is given, and all its tries together.
    var requestTimeout: Duration = .seconds(5)
    var patience: Duration = .seconds(30)

    /// A JetStream API answer: its JSON object, or the error the server gave.
    struct Answer: @unchecked Sendable {
        // @unchecked: a parsed JSON object, read and never changed.
        let object: [String: Any]

        var error: (code: Int, description: String)? {
            guard let error = object["error"] as? [String: Any] else { return nil }
            return (
                (error["err_code"] as? Int) ?? (error["code"] as? Int) ?? 0, (error["description"] as? String) ?? ""
            )
        }
    }

    /// Sends `payload` to `subject` and returns the JSON answer; throws once the patience is used up.
    func call(_ subject: String, _ payload: [String: Any] = [:], headers: [NATSHeader] = []) async throws -> Answer {
        let body = try JSONSerialization.data(withJSONObject: payload)
        return try await call(subject, bytes: Array(body), headers: headers)
    }

    func call(_ subject: String, bytes: [UInt8], headers: [NATSHeader] = []) async throws -> Answer {
        let deadline = ContinuousClock.now + patience
        var last = "no answer"
        var pause = Duration.milliseconds(50)
        while true {
            do {
                if let reply = try await link.request(
                    subject, headers: headers, payload: bytes, timeout: requestTimeout)
                {
                    if reply.status == 503 {
                        last = "no responders on \(subject)"
                    } else if let object = try? JSONSerialization.jsonObject(with: Data(reply.payload))
                        as? [String: Any]
                    {
                        return Answer(object: object)
                    } else {
                        last = "an answer that is not JSON"
                    }
                } else {
                    last = "no answer within \(requestTimeout)"
                }
            } catch {
                last = "\(error)"
            }
            if ContinuousClock.now + pause >= deadline { throw ClusterQueueError("\(subject): \(last)") }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(1))
        }
    }

    /// Creates the stream unless it exists (an existing stream is kept as it is).
    func ensureStream(_ configuration: StreamConfiguration, replicas: Int) async throws {
        let retention = configuration.retention == .workQueue ? "workqueue" : "limits"
        let answer = try await call(
            "$JS.API.STREAM.CREATE.\(configuration.name)",
            [
                "name": configuration.name, "subjects": configuration.subjects, "retention": retention,
                "storage": "file", "num_replicas": replicas, "duplicate_window": configuration.duplicateWindow,
            ])
        guard let error = answer.error else { return }
        // 10058: a stream of that name exists with another configuration; it is used as it is.
        if error.code == 10058 { return }
        throw ClusterQueueError("cannot create the stream \(configuration.name): \(error.description)")
    }

    /// Creates the durable pull consumer unless it exists.
    func ensureConsumer(stream: String, durable: String, ackWait: Int64, maxAckPending: Int) async throws {
        let answer = try await call(
            "$JS.API.CONSUMER.DURABLE.CREATE.\(stream).\(durable)",
            [
                "stream_name": stream,
                "config": [
                    "durable_name": durable, "ack_policy": "explicit", "ack_wait": ackWait, "max_deliver": -1,
                    "max_ack_pending": maxAckPending, "deliver_policy": "all",
                ] as [String: Any],
            ])
        guard let error = answer.error else { return }
        // 10148 (and 10013 in older servers): the consumer exists with another configuration; used as it is.
        if error.code == 10148 || error.code == 10013 { return }
        throw ClusterQueueError("cannot create the consumer \(durable) on \(stream): \(error.description)")
    }

    /// Publishes and returns the stream sequence once the cluster has stored the message (an R3 stream: on a
    /// majority of its servers). `messageID` makes a publish tried again after a lost answer count once.
    func publish(subject: String, headers: [NATSHeader], payload: [UInt8], messageID: String) async throws -> UInt64 {
        let answer = try await call(
            subject, bytes: payload, headers: headers + [NATSHeader("Nats-Msg-Id", messageID)])
        if let error = answer.error {
            throw ClusterQueueError("the cluster did not store the call: \(error.description)")
        }
        guard let sequence = (answer.object["seq"] as? NSNumber)?.uint64Value else {
            throw ClusterQueueError("the cluster's answer to a publish names no sequence")
        }
        return sequence
    }

    /// The stream's message count and last sequence.
    func state(of stream: String) async throws -> (messages: Int, first: UInt64, last: UInt64) {
        let answer = try await call("$JS.API.STREAM.INFO.\(stream)")
        if let error = answer.error { throw ClusterQueueError("\(stream): \(error.description)") }
        let state = answer.object["state"] as? [String: Any] ?? [:]
        return (
            (state["messages"] as? NSNumber)?.intValue ?? 0, (state["first_seq"] as? NSNumber)?.uint64Value ?? 0,
            (state["last_seq"] as? NSNumber)?.uint64Value ?? 0
        )
    }

    /// One stored message; nil when there is none at that sequence.
    func message(_ sequence: UInt64, in stream: String) async throws -> StoredMessage? {
        let answer = try await call("$JS.API.STREAM.MSG.GET.\(stream)", ["seq": sequence])
        if let error = answer.error {
            if error.code == 10037 { return nil }
            throw ClusterQueueError("\(stream) #\(sequence): \(error.description)")
        }
        guard let message = answer.object["message"] as? [String: Any] else { return nil }
        let headers = (message["hdrs"] as? String).flatMap { Data(base64Encoded: $0) }.map(Array.init) ?? []
        let payload = (message["data"] as? String).flatMap { Data(base64Encoded: $0) }.map(Array.init) ?? []
        let time = (message["time"] as? String).flatMap(Self.nanoseconds(fromRFC3339:)) ?? 0
        return StoredMessage(
            sequence: sequence, subject: message["subject"] as? String ?? "", headers: headers, payload: payload,
            time: time)
    }

    /// Deletes one stored message; false when it was gone already.
    @discardableResult
    func delete(_ sequence: UInt64, in stream: String) async throws -> Bool {
        let answer = try await call("$JS.API.STREAM.MSG.DELETE.\(stream)", ["seq": sequence, "no_erase": true])
        if let error = answer.error {
            if error.code == 10057 || error.code == 10037 { return false }
            throw ClusterQueueError("cannot delete \(stream) #\(sequence): \(error.description)")
        }
        return (answer.object["success"] as? Bool) ?? false
    }

    /// Nanoseconds since 1970 of an RFC 3339 time with up to nine fractional digits.
    static func nanoseconds(fromRFC3339 text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        guard let dot = text.firstIndex(of: ".") else {
            return formatter.date(from: text).map { Int64($0.timeIntervalSince1970) * 1_000_000_000 }
        }
        let digits = text[text.index(after: dot)...].prefix(while: \.isNumber)
        let whole = String(text[..<dot]) + String(text[digits.endIndex...])
        guard let date = formatter.date(from: whole) else { return nil }
        let fraction = Int64(String(digits.prefix(9)).padding(toLength: 9, withPad: "0", startingAt: 0)) ?? 0
        return Int64(date.timeIntervalSince1970) * 1_000_000_000 + fraction
    }
}
