import Foundation
import SkiffHTTP
import SkiffInvoke
import SkiffLog
import SkiffNATSClient
import SkiffRuntime
import Synchronization

/// Where the answer goes of a call that came with a NATS reply subject (a request to a subject trigger).
public protocol ReplyPublisher: Sendable {
    func publishReply(to subject: String, status: Int, headers: HTTPHeaders, body: [UInt8], callID: String) async
}

extension ReplyPublisher {
    func publishReply(to subject: String, outcome: FunctionCall.Outcome, callID: String) async {
        await publishReply(
            to: subject, status: outcome.status, headers: outcome.headers, body: outcome.body, callID: callID)
    }
}

/// Functions called by NATS messages, as OpenFaaS's nats-connector calls them: the annotation `topic: a,b` makes
/// every message on subject `a` or `b` a call of the function, with the payload as the body and the message's
/// headers as HTTP headers. A message with a reply subject (a NATS request) gets the function's answer published
/// there, so a device can call a function with a plain NATS request.
///
/// Each message is queued like an asynchronous call (at-least-once: retried, kept across a restart), unless the
/// function's `com.skiff.topic.delivery: fire-and-forget` annotation asks for a direct call, which is faster and
/// lost if the daemon stops. Subscriptions are in the queue group `skiff-triggers`, so that several daemons on one
/// NATS cluster take each message once. Follows deploys, updates and removals at once; reconnects when the
/// connection closes. A long-lived service of the daemon.
public final class SubjectTriggers: ReplyPublisher {
    public static let deliveryAnnotation = "com.skiff.topic.delivery"
    public static let queueGroup = "skiff-triggers"
    /// Calls (or enqueues) under way at once for one subject; past it, messages wait in the subscription's buffer.
    static let maxConcurrentPerSubject = 64

    public enum Delivery: String, Sendable {
        case atLeastOnce = "at-least-once"
        case fireAndForget = "fire-and-forget"
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    struct Binding: Sendable, Equatable {
        var function: FunctionAddress
        var delivery: Delivery
        /// The function's own queue (`com.openfaas.queue`), nil for the default one.
        var queue: String? = nil
    }

    let queue: any CallQueue
    let runtime: any FunctionRuntime
    let invoker: FunctionInvoker
    let connect: @Sendable () async throws -> NATSClient
    let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var client: NATSClient?
        /// Topic (a subject, maybe with wildcards) → the functions it calls.
        var bindings: [String: [Binding]] = [:]
        /// Invalid annotations already logged, so that each is logged once.
        var reported: Set<String> = []
    }

    public init(
        queue: any CallQueue, runtime: any FunctionRuntime, invoker: FunctionInvoker,
        connect: @escaping @Sendable () async throws -> NATSClient, logger: Logger
    ) {
        self.queue = queue
        self.runtime = runtime
        self.invoker = invoker
        self.connect = connect
        self.logger = logger
    }

    // MARK: Annotations

    /// The subjects a function's annotations bind it to (every topic but `cron-function`), and how messages are
    /// delivered; the gateway calls this to refuse unusable annotations at deploy time with 400.
    public static func binding(annotations: [String: String]) throws(Invalid) -> (subjects: [String], Delivery) {
        let topics = TopicAnnotation.topics(annotations).filter { $0 != CronTriggers.topic }
        for topic in topics {
            do {
                try NATSClient.checkSubject(topic, wildcards: true)
            } catch {
                throw Invalid(description: "topic \(topic.debugDescription) is not a NATS subject: \(error)")
            }
        }
        let text = annotations[deliveryAnnotation] ?? Delivery.atLeastOnce.rawValue
        guard let delivery = Delivery(rawValue: text) else {
            throw Invalid(
                description: "\(deliveryAnnotation) is \(text.debugDescription), not at-least-once or fire-and-forget")
        }
        return (Array(Set(topics)).sorted(), delivery)
    }

    private func currentBindings() async -> [String: [Binding]] {
        var bindings: [String: [Binding]] = [:]
        for status in await runtime.listAll() {
            let definition = status.definition
            let function = FunctionAddress(uncheckedName: definition.name, namespace: definition.namespace)
            do {
                let (subjects, delivery) = try Self.binding(annotations: definition.annotations)
                let queue = (try? QueueLane.name(annotations: definition.annotations)) ?? nil
                for subject in subjects {
                    bindings[subject, default: []].append(
                        Binding(function: function, delivery: delivery, queue: queue))
                }
            } catch {
                let key = "\(function.qualified) \(error)"
                if state.withLock({ $0.reported.insert(key).inserted }) {
                    logger.warning("\(function.qualified) is not bound to its topics: \(error)")
                }
            }
        }
        return bindings
    }

    // MARK: Running

    public func run() async {
        var pause = Duration.milliseconds(100)
        var lastFailure = ""
        while !Task.isCancelled {
            do {
                let client = try await connect()
                pause = .milliseconds(100)
                lastFailure = ""
                state.withLock { $0.client = client }
                await serve(client)
                state.withLock { $0.client = nil }
                await client.close()
            } catch {
                // Said once per kind of failure, not at every attempt.
                if "\(error)" != lastFailure {
                    logger.warning("subject triggers cannot reach the NATS broker: \(error); trying again")
                    lastFailure = "\(error)"
                }
            }
            if Task.isCancelled { return }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(5))
        }
    }

    /// Until the connection closes (or the task is cancelled): keeps one subscription per bound topic, in step
    /// with the deployed functions, each consumed by a task of its own.
    private func serve(_ client: NATSClient) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { _ = await client.closed() }
            group.addTask { await self.follow(client) }
            await group.next()
            group.cancelAll()
        }
    }

    private func follow(_ client: NATSClient) async {
        await withTaskGroup(of: Void.self) { consumers in
            var subscribed: [String: NATSSubscription] = [:]
            while !Task.isCancelled {
                let seen = runtime.definitionChanges.generation
                let bindings = await currentBindings()
                state.withLock { $0.bindings = bindings }
                for (topic, subscription) in subscribed where bindings[topic] == nil {
                    await client.unsubscribe(subscription)
                    subscribed[topic] = nil
                    logger.info("unsubscribed from \(topic)", ["topic": topic])
                }
                for topic in bindings.keys.sorted() where subscribed[topic] == nil {
                    do {
                        let subscription = try await client.subscribe(topic, queue: Self.queueGroup)
                        subscribed[topic] = subscription
                        consumers.addTask { await self.consume(subscription, topic: topic) }
                        let functions = bindings[topic, default: []].map(\.function.qualified)
                        logger.info(
                            "subscribed to \(topic)", ["topic": topic, "functions": functions.joined(separator: ",")])
                    } catch {
                        logger.warning("cannot subscribe to \(topic): \(error)", ["topic": topic])
                    }
                }
                // The broker has the subscriptions once it answers a PING: a deploy's caller can then publish.
                try? await client.flush()
                await runtime.definitionChanges.wait(after: seen, until: .now + .seconds(30))
            }
            consumers.cancelAll()
        }
    }

    private func consume(_ subscription: NATSSubscription, topic: String) async {
        await withTaskGroup(of: Void.self) { calls in
            var running = 0
            for await message in subscription {
                let bindings = state.withLock { $0.bindings[topic] ?? [] }
                for binding in bindings {
                    // At most the bound under way, however many functions one message calls.
                    while running >= Self.maxConcurrentPerSubject, await calls.next() != nil { running -= 1 }
                    calls.addTask { await self.deliver(message, topic: topic, to: binding) }
                    running += 1
                }
            }
            if subscription.dropped > 0 {
                logger.warning(
                    "\(subscription.dropped) messages on \(topic) were dropped: the triggers were behind",
                    ["topic": topic])
            }
        }
    }

    // MARK: One message

    /// The message as the call OpenFaaS's connectors make: a POST to `/` with the payload, the message's headers,
    /// `X-Topic` and `X-Connector`.
    static func request(for message: NATSMessage, topic: String, function: FunctionAddress, callID: String)
        -> QueueRequest
    {
        var header: [String: [String]] = [:]
        // Headers go as they came; what HTTP cannot carry is dropped where every queued call is made (FunctionCall).
        for field in message.headers {
            header[field.name, default: []].append(field.value)
        }
        header["X-Call-Id"] = [callID]
        header["X-Topic"] = [message.subject]
        header["X-Connector"] = ["nats-connector"]
        header["X-Start-Time"] = [String(AsyncQueue.now())]
        return QueueRequest(
            function: function.qualified, method: "POST", header: header, body: Data(message.payload), path: "/")
    }

    private func deliver(_ message: NATSMessage, topic: String, to binding: Binding) async {
        let given = message.header("X-Call-Id")
        let callID = given.flatMap { $0.utf8.count <= 128 && HTTPHeaders.isValidValue($0) ? $0 : nil } ?? CallID.make()
        var request = Self.request(for: message, topic: topic, function: binding.function, callID: callID)
        request.queueName = binding.queue
        switch binding.delivery {
        case .atLeastOnce:
            do {
                _ = try await queue.enqueue(request, callID: callID, replySubject: message.reply)
            } catch {
                logger.error(
                    "cannot queue a message on \(topic) for \(binding.function.qualified): \(error)",
                    ["topic": topic, "call_id": callID])
                if let reply = message.reply {
                    await publishReply(
                        to: reply, status: 503, headers: HTTPHeaders(), body: Array("cannot queue the call".utf8),
                        callID: callID)
                }
            }
        case .fireAndForget:
            let outcome = await FunctionCall.make(request, function: binding.function, callID: callID, invoker: invoker)
            if let reply = message.reply { await publishReply(to: reply, outcome: outcome, callID: callID) }
        }
    }

    public func publishReply(to subject: String, status: Int, headers: HTTPHeaders, body: [UInt8], callID: String)
        async
    {
        guard let client = state.withLock({ $0.client }) else {
            logger.warning("the answer to \(subject) is lost: no connection to the NATS broker", ["call_id": callID])
            return
        }
        var fields = [NATSHeader("X-Call-Id", callID), NATSHeader("X-Function-Status", String(status))]
        if let type = headers["Content-Type"], HTTPHeaders.isValidValue(type) {
            fields.append(NATSHeader("Content-Type", type))
        }
        do {
            try await client.publish(subject, headers: fields, payload: body)
        } catch NATSClientError.invalid(let why) {
            // Over the broker's max_payload: the requester learns why instead of waiting for its timeout.
            fields[1] = NATSHeader("X-Function-Status", "502")
            fields.append(NATSHeader("Skiff-Error", "the answer of \(body.count) bytes cannot be published: \(why)"))
            try? await client.publish(subject, headers: fields, payload: [])
        } catch {
            logger.warning("the answer to \(subject) is lost: \(error)", ["call_id": callID])
        }
    }
}
