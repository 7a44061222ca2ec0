import Foundation
import SkiffPOSIX
import SkiffStream
import Synchronization

/// JetStream on the broker: the streams kept under one directory, the `$JS.API` requests that manage them, and
/// the publishes they capture. (Consumers come next.)
final class JetStream: Sendable {
    let directory: String
    private let streams = Mutex<[String: MessageStream]>([:])
    private let captures = Mutex<[(pattern: [UInt8], stream: MessageStream)]>([])
    private let anyStream = Atomic<Bool>(false)
    let consumers = Mutex<[String: ConsumerEntry]>([:])
    /// Expiring pulls and due redeliveries; run while the broker runs.
    let timers = DeadlineScheduler(clock: ContinuousClock())
    private let runner = Mutex<[Task<Void, Never>]>([])
    /// Acks in the order clients sent them: each waits for the one before (a deletion on disk), so that an ack
    /// with a reply is confirmed only after every earlier ack took effect.
    private let acks = AsyncStream<@Sendable () async -> Void>.makeStream()
    private let serverReference = Mutex(WeakServer())

    private struct WeakServer {
        weak var value: NATSServer?
    }

    init(directory: String) {
        self.directory = directory
    }

    /// The broker that delivers JetStream's answers (not retained: it owns this).
    var server: NATSServer? {
        get { serverReference.withLock { $0.value } }
        set { serverReference.withLock { $0.value = newValue } }
    }

    /// Starts the timers and the ack queue on `loop` (not the cooperative pool, which a busy process may keep
    /// from them past a client's timeout); they run until ``stopTimers()``.
    func startTimers(on loop: EventLoop) {
        runner.withLock { runner in
            guard runner.isEmpty else { return }
            let queue = acks.stream
            runner = [
                Task(executorPreference: loop) { [timers] in await timers.run() },
                Task(executorPreference: loop) { for await work in queue { await work() } },
            ]
        }
    }

    func stopTimers() {
        acks.continuation.finish()
        runner.withLock { runner in
            for task in runner { task.cancel() }
            runner = []
        }
    }

    /// Runs `work` after every ack queued before it.
    func inOrder(_ work: @escaping @Sendable () async -> Void) { acks.continuation.yield(work) }

    func stream(named name: String) -> MessageStream? { streams.withLock { $0[name] } }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e9) }

    /// Opens every stream found in the directory (each a folder with its configuration and log).
    func open() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var opened: [String: MessageStream] = [:]
        var openedConsumers: [String: ConsumerEntry] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory)
        where FileManager.default.fileExists(atPath: "\(directory)/\(name)/config.json") {
            let stream = try MessageStream.open(directory: "\(directory)/\(name)", now: Self.now())
            opened[stream.configuration.name] = stream
            let folder = "\(directory)/\(name)/consumers"
            for file in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            where file.hasSuffix(".json") {
                let configuration = try JSONDecoder().decode(
                    ConsumerConfiguration.self, from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(file)")))
                openedConsumers[Self.consumerKey(stream.configuration.name, configuration.name)] = ConsumerEntry(
                    consumer: makeConsumer(stream, configuration))
            }
        }
        streams.withLock { $0 = opened }
        streamsChanged()
        consumers.withLock { $0 = openedConsumers }
    }

    /// The stream whose subjects take `subject`, if any.
    /// Every publish asks this (when JetStream is on): the subjects are kept as bytes, and with no stream the
    /// answer is one atomic load.
    func stream(capturing subject: [UInt8]) -> MessageStream? {
        guard hasStreams else { return nil }
        return captures.withLock { captures in
            captures.first { Subject.matches(pattern: $0.pattern, subject: subject) }?.stream
        }
    }

    /// Whether any stream exists (one atomic load).
    var hasStreams: Bool { anyStream.load(ordering: .acquiring) }

    /// Rebuilds the subject table after streams change.
    private func streamsChanged() {
        let all = streams.withLock { Array($0.values) }
        captures.withLock { captures in
            captures = all.flatMap { stream in stream.configuration.subjects.map { (Array($0.utf8), stream) } }
        }
        anyStream.store(!all.isEmpty, ordering: .releasing)
    }

    var streamCount: Int { streams.withLock { $0.count } }

    /// The stream `configuration` names, created with it when missing: for users in the same process (the
    /// daemon's queue), which then share the one log with the broker's clients.
    func stream(_ configuration: StreamConfiguration) throws -> MessageStream {
        if let existing = streams.withLock({ $0[configuration.name] }) { return existing }
        let stream = try MessageStream(
            directory: "\(directory)/\(configuration.name)", configuration: configuration, now: Self.now())
        streams.withLock { $0[configuration.name] = stream }
        streamsChanged()
        return stream
    }

    // MARK: $JS.API

    /// The answer to one `$JS.API.…` request.
    func handle(api subject: String, body: [UInt8], reply: [UInt8]?) async -> [UInt8]? {
        let tokens = subject.split(separator: ".").map(String.init)
        guard tokens.count >= 3 else { return JetStreamAPI.failure("api", code: 400, errCode: 10003, "bad request") }
        let operation = tokens.dropFirst(2).joined(separator: ".")
        switch tokens.count {
        case 3 where tokens[2] == "INFO":
            let all = streams.withLock { Array($0.values) }
            return JetStreamAPI.encode(
                JetStreamAPI.AccountInfo(
                    storage: all.reduce(0) { $0 + $1.log.summary.bytes }, streams: all.count,
                    consumers: consumers.withLock { $0.count }))
        case 4 where operation == "STREAM.NAMES":
            return names(body)
        case 5 where tokens[2] == "STREAM":
            return await streamRequest(tokens[3], name: tokens[4], body: body)
        case 5...8 where tokens[2] == "CONSUMER":
            return await consumerRequest(tokens, body: body, reply: reply)
        default:
            return JetStreamAPI.failure("api", code: 400, errCode: 10003, "unknown JetStream request \(operation)")
        }
    }

    private func names(_ body: [UInt8]) -> [UInt8] {
        let wanted = (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["subject"] as? String
        let names = streams.withLock { streams in
            streams.values.filter { stream in
                guard let wanted else { return true }
                return stream.configuration.subjects.contains {
                    Subject.matches(pattern: Array($0.utf8), subject: Array(wanted.utf8))
                        || Subject.matches(pattern: Array(wanted.utf8), subject: Array($0.utf8)) || $0 == wanted
                }
            }.map(\.configuration.name).sorted()
        }
        return JetStreamAPI.encode(JetStreamAPI.StreamNames(total: names.count, streams: names))
    }

    private func streamRequest(_ verb: String, name: String, body: [UInt8]) async -> [UInt8] {
        switch verb {
        case "CREATE":
            return create(name: name, body: body)
        case "INFO":
            guard let stream = streams.withLock({ $0[name] }) else { return notFound("stream_info") }
            return info(stream, type: "stream_info", didCreate: nil)
        case "DELETE":
            guard let stream = streams.withLock({ $0.removeValue(forKey: name) }) else {
                return notFound("stream_delete")
            }
            streamsChanged()
            let gone = consumers.withLock { entries in
                defer { entries = entries.filter { $0.value.consumer.stream !== stream } }
                return entries.values.map(\.consumer).filter { $0.stream === stream }
            }
            for consumer in gone { consumer.retire() }
            try? FileManager.default.removeItem(atPath: (stream.log.directory as NSString).deletingLastPathComponent)
            return JetStreamAPI.encode(JetStreamAPI.Success(type: "io.nats.jetstream.api.v1.stream_delete_response"))
        case "PURGE":
            guard let stream = streams.withLock({ $0[name] }) else { return notFound("stream_purge") }
            var purged = 0
            for sequence in stream.log.sequences where (try? await stream.log.delete(sequence)) == true { purged += 1 }
            return JetStreamAPI.encode(
                JetStreamAPI.Success(type: "io.nats.jetstream.api.v1.stream_purge_response", purged: purged))
        default:
            return JetStreamAPI.failure("api", code: 400, errCode: 10003, "unknown stream request \(verb)")
        }
    }

    private func create(name: String, body: [UInt8]) -> [UInt8] {
        let configuration: StreamConfiguration
        do {
            configuration = try JSONDecoder().decode(StreamConfiguration.self, from: Data(body))
        } catch {
            return JetStreamAPI.failure("stream_create", code: 400, errCode: 10025, "invalid JSON: \(error)")
        }
        guard configuration.name == name else {
            return JetStreamAPI.failure(
                "stream_create", code: 400, errCode: 10056, "stream name in subject does not match request")
        }
        if let existing = streams.withLock({ $0[name] }) {
            guard existing.configuration == configuration else {
                return JetStreamAPI.failure(
                    "stream_create", code: 400, errCode: 10058,
                    "stream name already in use with a different configuration")
            }
            return info(existing, type: "stream_create", didCreate: false)
        }
        do {
            let stream = try MessageStream(
                directory: "\(directory)/\(name)", configuration: configuration, now: Self.now())
            streams.withLock { $0[name] = stream }
            streamsChanged()
            return info(stream, type: "stream_create", didCreate: true)
        } catch {
            return JetStreamAPI.failure("stream_create", code: 400, errCode: 10049, "\(error)")
        }
    }

    private func info(_ stream: MessageStream, type: String, didCreate: Bool?) -> [UInt8] {
        let summary = stream.log.summary
        return JetStreamAPI.encode(
            JetStreamAPI.StreamInfo(
                type: "io.nats.jetstream.api.v1.\(type)_response", config: stream.configuration,
                created: JetStreamAPI.timestamp(Self.now()),
                state: .init(
                    messages: summary.messages, bytes: summary.bytes,
                    firstSeq: summary.messages == 0 ? summary.lastSequence + 1 : summary.firstSequence,
                    lastSeq: summary.lastSequence, consumerCount: 0),
                didCreate: didCreate))
    }

    private func notFound(_ kind: String) -> [UInt8] {
        JetStreamAPI.failure(kind, code: 404, errCode: 10059, "stream not found")
    }
}
