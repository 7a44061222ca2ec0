import Foundation
import SkiffPOSIX
import SkiffStream
import Synchronization

/// Durable pull consumers on the broker: `CONSUMER.CREATE`/`INFO`/`DELETE`, the pulls of `MSG.NEXT` (served
/// at once, or parked until a message, a redelivery or their expiry), and the acks clients publish to the
/// `$JS.ACK.…` subject each delivery carries.
extension JetStream {
    struct PullRequest: Sendable {
        let reply: [UInt8]
        var remaining: Int
        let expires: Int64?
        let noWait: Bool
        var delivered = 0
        /// `idle_heartbeat`: while it waits, a `100 Idle Heartbeat` this often (nanoseconds), next due then.
        var heartbeat: Int64?
        var nextHeartbeat: Int64?
        /// The beat a timer is already set for, so that however often `serve` runs, one timer per beat is set.
        var scheduledHeartbeat: Int64?
    }

    struct ConsumerEntry: Sendable {
        let consumer: StreamConsumer
        var waiting: [PullRequest] = []
        /// A thread is handing messages to the waiting pulls; another that must serve marks `serveAgain` instead.
        var serving = false
        var serveAgain = false
    }

    static func consumerKey(_ stream: String, _ consumer: String) -> String { "\(stream)\u{0}\(consumer)" }

    // MARK: API

    func consumerRequest(_ tokens: [String], body: [UInt8], reply: [UInt8]?) async -> [UInt8]? {
        // $JS.API.CONSUMER.<VERB>.<stream>.<consumer>[.<filter>] and $JS.API.CONSUMER.DURABLE.CREATE.<s>.<c>
        var rest = Array(tokens.dropFirst(3))
        var verb = rest.removeFirst()
        if verb == "DURABLE", rest.first == "CREATE" {
            rest.removeFirst()
            verb = "CREATE"
        }
        if verb == "MSG", rest.first == "NEXT" {
            rest.removeFirst()
            guard rest.count == 2, let reply else { return nil }
            pull(stream: rest[0], consumer: rest[1], body: body, reply: reply)
            return nil
        }
        guard rest.count >= 2 else { return JetStreamAPI.failure("api", code: 400, errCode: 10003, "bad request") }
        let (streamName, name) = (rest[0], rest[1])
        guard let stream = stream(named: streamName) else {
            return JetStreamAPI.failure("consumer_\(verb.lowercased())", code: 404, errCode: 10059, "stream not found")
        }
        switch verb {
        case "CREATE":
            return createConsumer(stream, name: name, body: body)
        case "INFO":
            guard let entry = consumers.withLock({ $0[Self.consumerKey(streamName, name)] }) else {
                return JetStreamAPI.failure("consumer_info", code: 404, errCode: 10014, "consumer not found")
            }
            return consumerInfo(entry.consumer, type: "consumer_info")
        case "DELETE":
            guard let removed = consumers.withLock({ $0.removeValue(forKey: Self.consumerKey(streamName, name)) })
            else {
                return JetStreamAPI.failure("consumer_delete", code: 404, errCode: 10014, "consumer not found")
            }
            removed.consumer.retire()
            try? FileManager.default.removeItem(atPath: consumerFile(streamName, name))
            try? FileManager.default.removeItem(atPath: consumerStateFile(streamName, name))
            for request in removed.waiting { status(409, "Consumer Deleted", to: request.reply) }
            return JetStreamAPI.encode(JetStreamAPI.Success(type: "io.nats.jetstream.api.v1.consumer_delete_response"))
        default:
            return JetStreamAPI.failure("api", code: 400, errCode: 10003, "unknown consumer request \(verb)")
        }
    }

    func consumerFile(_ stream: String, _ consumer: String) -> String {
        "\(directory)/\(stream)/consumers/\(consumer).json"
    }

    /// What the consumer delivered and had acknowledged (not `.json`: only configurations are listed by that).
    func consumerStateFile(_ stream: String, _ consumer: String) -> String {
        "\(directory)/\(stream)/consumers/\(consumer).state"
    }

    private func createConsumer(_ stream: MessageStream, name: String, body: [UInt8]) -> [UInt8] {
        struct Request: Decodable { var config: ConsumerConfiguration }
        let configuration: ConsumerConfiguration
        do {
            configuration = try JSONDecoder().decode(Request.self, from: Data(body)).config
        } catch {
            return JetStreamAPI.failure("consumer_create", code: 400, errCode: 10025, "invalid JSON: \(error)")
        }
        var named = configuration
        if named.name.isEmpty { named.name = name }
        if let problem = named.problem(on: stream.configuration.retention) {
            return JetStreamAPI.failure("consumer_create", code: 400, errCode: problem.code, problem.description)
        }
        let key = Self.consumerKey(stream.configuration.name, named.name)
        if let existing = consumers.withLock({ $0[key] }) {
            return consumerInfo(existing.consumer, type: "consumer_create")
        }
        if stream.configuration.retention == .workQueue {
            let others = consumers.withLock { entries in
                entries.values.map(\.consumer).filter { $0.stream === stream }
            }
            if others.contains(where: { $0.configuration.filterSubject == nil })
                || (named.filterSubject == nil && !others.isEmpty)
            {
                return JetStreamAPI.failure(
                    "consumer_create", code: 400, errCode: 10099,
                    "multiple non-filtered consumers not allowed on workqueue stream")
            }
        }
        do {
            let path = consumerFile(stream.configuration.name, named.name)
            try DurableFile.write(Array(try JSONEncoder().encode(named)), to: path)
        } catch {
            return JetStreamAPI.failure("consumer_create", code: 500, errCode: 10012, "\(error)")
        }
        let consumer = makeConsumer(stream, named)
        consumers.withLock { $0[key] = ConsumerEntry(consumer: consumer) }
        return consumerInfo(consumer, type: "consumer_create")
    }

    func makeConsumer(_ stream: MessageStream, _ configuration: ConsumerConfiguration) -> StreamConsumer {
        let filter = configuration.filterSubject.map { Array($0.utf8) }
        return StreamConsumer(
            stream: stream, configuration: configuration,
            stateFile: consumerStateFile(stream.configuration.name, configuration.name), now: Self.now()
        ) { subject in
            filter.map { Subject.matches(pattern: $0, subject: Array(subject.utf8)) } ?? true
        }
    }

    private func consumerInfo(_ consumer: StreamConsumer, type: String) -> [UInt8] {
        let waiting = consumers.withLock {
            $0[Self.consumerKey(consumer.stream.configuration.name, consumer.configuration.name)]?.waiting.count ?? 0
        }
        return JetStreamAPI.encode(
            JetStreamAPI.ConsumerInfo(
                type: "io.nats.jetstream.api.v1.\(type)_response", streamName: consumer.stream.configuration.name,
                name: consumer.configuration.name, created: JetStreamAPI.timestamp(Self.now()),
                config: consumer.configuration, numAckPending: consumer.numAckPending,
                numRedelivered: consumer.numRedelivered, numWaiting: waiting, numPending: consumer.numPending))
    }

    // MARK: Pulls

    private func pull(stream streamName: String, consumer name: String, body: [UInt8], reply: [UInt8]) {
        let key = Self.consumerKey(streamName, name)
        // A bare number is a batch (`+NXT 5`); otherwise the JSON of a pull request.
        let text = String(decoding: body, as: UTF8.self).trimmingSpaces()
        let fields =
            Int(text).map { ["batch": NSNumber(value: $0)] }
            ?? (text.isEmpty ? nil : try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
            ?? [:]
        let batch = max((fields["batch"] as? NSNumber)?.intValue ?? 1, 1)
        let expires = (fields["expires"] as? NSNumber)?.int64Value ?? 0
        let noWait = (fields["no_wait"] as? Bool) ?? false
        let heartbeat = (fields["idle_heartbeat"] as? NSNumber)?.int64Value ?? 0
        let now = Self.now()
        var request = PullRequest(
            reply: reply, remaining: batch, expires: expires > 0 ? now + expires : nil, noWait: noWait)
        if heartbeat > 0 {
            request.heartbeat = heartbeat
            request.nextHeartbeat = now + heartbeat
        }
        enum Admission { case gone, full, waiting }
        let admission = consumers.withLock { entries -> Admission in
            guard let entry = entries[key] else { return .gone }
            // As nats-server: a full list refuses the newcomer, even one that could be served at once.
            guard entry.waiting.count < entry.consumer.configuration.maxWaiting else { return .full }
            entries[key]?.waiting.append(request)
            return .waiting
        }
        switch admission {
        case .gone: return status(409, "Consumer Deleted", to: reply)
        case .full: return status(409, "Exceeded MaxWaiting", to: reply)
        case .waiting: break
        }
        serve(key)
        if let deadline = request.expires { schedule(at: deadline, key) }
    }

    /// A status message on a pull's inbox: headers only, `NATS/1.0 CODE DESCRIPTION`.
    private func status(_ code: Int, _ description: String, extra: String = "", to reply: [UInt8]) {
        server?.deliverFromServer(
            subject: reply, headers: Array("NATS/1.0 \(code) \(description)\r\n\(extra)\r\n".utf8), payload: [])
    }

    /// Sends the idle heartbeats that are due to the consumer's waiting pulls, and sets a timer for each next one.
    private func beat(_ key: String, now: Int64) {
        var due: [[UInt8]] = []
        var timers: [Int64] = []
        consumers.withLock { entries in
            guard var waiting = entries[key]?.waiting else { return }
            for index in waiting.indices {
                guard let interval = waiting[index].heartbeat, var next = waiting[index].nextHeartbeat else { continue }
                if next <= now {
                    due.append(waiting[index].reply)
                    while next <= now { next += interval }
                    waiting[index].nextHeartbeat = next
                }
                if waiting[index].scheduledHeartbeat != next {
                    waiting[index].scheduledHeartbeat = next
                    timers.append(next)
                }
            }
            entries[key]?.waiting = waiting
        }
        for reply in due { status(100, "Idle Heartbeat", to: reply) }
        for deadline in timers { schedule(at: deadline, key) }
    }

    /// Hands what the consumer can deliver to its waiting pulls, oldest first; answers the ones that end.
    ///
    /// One thread at a time per consumer: a pull on one loop, an ack on another and a timer can all ask at once, and
    /// two servers would hand two messages to the same pull and then both take it off the list. The one that comes
    /// second leaves a mark, and the one serving goes round again.
    func serve(_ key: String) {
        let mine = consumers.withLock { entries -> Bool in
            guard let entry = entries[key] else { return false }
            if entry.serving {
                entries[key]?.serveAgain = true
                return false
            }
            entries[key]?.serving = true
            return true
        }
        guard mine else { return }
        while true {
            serveWaitingPulls(key)
            let again = consumers.withLock { entries -> Bool in
                guard let entry = entries[key] else { return false }
                if entry.serveAgain {
                    entries[key]?.serveAgain = false
                    return true
                }
                entries[key]?.serving = false
                return false
            }
            if !again { return }
        }
    }

    private func serveWaitingPulls(_ key: String) {
        let now = Self.now()
        while true {
            guard let entry = consumers.withLock({ $0[key] }), var request = entry.waiting.first else { return }
            let (delivery, events) = entry.consumer.next(now: now)
            for event in events { advise(event, entry.consumer) }
            if let delivery {
                send(delivery, of: entry.consumer, to: request.reply)
                request.remaining -= 1
                request.delivered += 1
                consumers.withLock { entries in
                    guard entries[key]?.waiting.isEmpty == false else { return }
                    if request.remaining == 0 {
                        entries[key]?.waiting.removeFirst()
                    } else {
                        entries[key]?.waiting[0] = request
                    }
                }
                continue
            }
            // Nothing to deliver now.
            let expired = request.expires.map { $0 <= now } ?? false
            if request.noWait || expired {
                consumers.withLock { entries in
                    if entries[key]?.waiting.isEmpty == false { entries[key]?.waiting.removeFirst() }
                }
                if expired {
                    status(
                        408, "Request Timeout",
                        extra: "Nats-Pending-Messages: \(request.remaining)\r\nNats-Pending-Bytes: 0\r\n",
                        to: request.reply)
                } else {
                    status(404, "No Messages", to: request.reply)
                }
                continue
            }
            if let deadline = entry.consumer.nextDeadline { schedule(at: deadline, key) }
            beat(key, now: now)
            return
        }
    }

    /// After an ack: the wait for that message ends, and a parked pull may get the next.
    func acknowledge(subject: [UInt8], body: [UInt8], reply: [UInt8]?) {
        // $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>
        let tokens = String(decoding: subject, as: UTF8.self).split(separator: ".").map(String.init)
        guard tokens.count >= 9, let sequence = UInt64(tokens[5]) else { return }
        let key = Self.consumerKey(tokens[2], tokens[3])
        guard let consumer = consumers.withLock({ $0[key]?.consumer }) else { return }
        let text = String(decoding: body, as: UTF8.self)
        let now = Self.now()
        // An ack releases its message now, in the order the client sent its acks and pulls, so that a pull right
        // after an ack finds the room the ack made. Its deletion (and an AckSync's reply, which waits for the disk)
        // stays in order with the other acks below.
        let isAck = text.isEmpty || text.hasPrefix("+ACK")
        let released = isAck && consumer.release(sequence)
        inOrder { [self] in
            if isAck {
                if released { await consumer.settle(sequence) }
                if let reply { server?.deliverFromServer(subject: reply, payload: []) }
                serve(key)
                return
            }
            if text.hasPrefix("+NXT") {
                await consumer.acknowledge(sequence)
                // Acknowledged, and the ack's reply subject is a pull for more (what follows `+NXT`: a batch).
                if let reply {
                    pull(stream: tokens[2], consumer: tokens[3], body: Array(body.dropFirst(4)), reply: reply)
                }
                serve(key)
                return
            }
            if text.hasPrefix("-NAK") {
                let json = String(text.dropFirst(4)).trimmingSpaces()
                let delay = (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["delay"]
                consumer.negativeAcknowledge(sequence, delay: (delay as? NSNumber)?.int64Value, now: now)
            } else if text.hasPrefix("+WPI") {
                consumer.inProgress(sequence, now: now)
            } else if text.hasPrefix("+TERM") {
                await consumer.terminate(sequence)
                advise(
                    "MSG_TERMINATED", type: "terminated", consumer,
                    fields: [
                        ("consumer_seq", tokens[6]), ("stream_seq", tokens[5]), ("deliveries", tokens[4]),
                    ].filter { UInt64($0.1) != nil })
            }
            if let reply { server?.deliverFromServer(subject: reply, payload: []) }
            serve(key)
        }
    }

    /// A stream stored a message: its consumers' parked pulls may take it.
    func stored(in stream: String) {
        let keys = consumers.withLock { entries in
            entries.filter { $0.value.consumer.stream.configuration.name == stream && !$0.value.waiting.isEmpty }.map(
                \.key)
        }
        for key in keys { serve(key) }
    }

    private func send(_ delivery: StreamConsumer.Delivery, of consumer: StreamConsumer, to reply: [UInt8]) {
        let message = delivery.message
        let ack =
            "$JS.ACK.\(consumer.stream.configuration.name).\(consumer.configuration.name).\(delivery.deliveries)."
            + "\(message.sequence).\(delivery.consumerSequence).\(message.time).\(delivery.pending)"
        server?.deliverFromServer(
            subject: reply, headers: message.headers.isEmpty ? nil : message.headers, payload: message.payload,
            as: Array(message.subject.utf8), reply: Array(ack.utf8))
    }

    private func advise(_ event: StreamConsumer.Event, _ consumer: StreamConsumer) {
        guard case .maxDeliveries(let sequence, let deliveries) = event else { return }
        advise(
            "MAX_DELIVERIES", type: "max_deliver", consumer,
            fields: [("stream_seq", "\(sequence)"), ("deliveries", "\(deliveries)")])
    }

    /// `$JS.EVENT.ADVISORY.CONSUMER.<EVENT>.<stream>.<consumer>` with nats-server's JSON: the type, the names,
    /// then `fields` (numbers, written as they are).
    private func advise(
        _ event: String, type: String, _ consumer: StreamConsumer, fields: [(String, String)]
    ) {
        let stream = consumer.stream.configuration.name
        let name = consumer.configuration.name
        var advisory = Array(#"{"type":"io.nats.jetstream.advisory.v1."#.utf8) + type.utf8 + #"","stream":"#.utf8
        JSONText.appendQuoted(stream, to: &advisory)
        advisory += #","consumer":"#.utf8
        JSONText.appendQuoted(name, to: &advisory)
        for (key, value) in fields { advisory += ",\"\(key)\":\(value)".utf8 }
        advisory.append(UInt8(ascii: "}"))
        server?.deliverFromServer(
            subject: Array("$JS.EVENT.ADVISORY.CONSUMER.\(event).\(stream).\(name)".utf8), payload: advisory)
    }

    private func schedule(at deadline: Int64, _ key: String) {
        let delay = Duration.nanoseconds(max(deadline - Self.now(), 0) + 1_000_000)
        timers.schedule(after: delay) { [self] in serve(key) }
    }
}
