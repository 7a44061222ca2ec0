import SkiffNet
import SkiffPOSIX

/// Publishing: a client's message goes to every plain subscription it matches and to one member of each queue
/// group, on this loop directly or gathered for clients on other loops.
extension ClientConnection {
    func publish(
        subject: UnsafeBufferPointer<UInt8>, reply: UnsafeBufferPointer<UInt8>?, headerLength: Int?,
        message: UnsafeBufferPointer<UInt8>
    ) {
        if headerLength != nil && !options.headers {
            // HPUB on a connection that did not ask for headers: closed without a word, as nats-server does.
            close()
            return
        }
        messagesIn += 1
        bytesIn += message.count
        if Self.isReservedForServers(subject) {
            send(
                MessageFrame.error(
                    "Permissions Violation for Publish to \"\(String(decoding: subject, as: UTF8.self))\""))
            return
        }
        if let reply, Self.isReservedReply(reply) {
            send(
                MessageFrame.error(
                    "Permissions Violation for Publish with Reply of \"\(String(decoding: reply, as: UTF8.self))\""))
            return
        }
        if options.pedantic && !Subject.isValidLiteral(subject) {
            // Pedantic mode says so and still delivers (nats-server does).
            send(MessageFrame.error("Invalid Publish Subject"))
        }
        acknowledge()
        var stored = false
        if let jetStream = server.jetStream {
            switch offer(to: jetStream, subject: subject, reply: reply, headerLength: headerLength, message: message) {
            case .apiRequest: return
            case .stored: stored = true
            case .notJetStream: break
            }
        }
        let match = matches(subject)
        if match.isEmpty {
            // A stream that stored the message answers the request itself.
            if let reply, options.noResponders, !stored { answerNoResponders(reply) }
            return
        }
        for subscription in match.plain {
            deliver(to: subscription, subject: subject, reply: reply, headerLength: headerLength, message: message)
        }
        for group in match.groups {
            deliverToOne(of: group, subject: subject, reply: reply, headerLength: headerLength, message: message)
        }
    }

    private func matches(_ subject: UnsafeBufferPointer<UInt8>) -> SubscriptionIndex.Match {
        let generation = server.index.generation
        if let last = lastMatch, last.generation == generation, last.subject.elementsEqual(subject) {
            return last.match
        }
        let match = server.index.match(subject)
        lastMatch = (Array(subject), generation, match)
        return match
    }

    enum JetStreamOutcome { case notJetStream, apiRequest, stored }

    /// `$JS.API` requests are answered by JetStream (on a task: they may touch the disk); a publish to a subject a
    /// stream captures is stored, queued now in this client's order, and acknowledged to its reply subject (a
    /// `PubAck`, or JetStream's error) once on disk.
    private func offer(
        to jetStream: JetStream, subject: UnsafeBufferPointer<UInt8>, reply: UnsafeBufferPointer<UInt8>?,
        headerLength: Int?, message: UnsafeBufferPointer<UInt8>
    ) -> JetStreamOutcome {
        // Most publishes are not JetStream's: they pass with two prefix checks and one atomic load, no copy.
        let isAPI = subject.starts(with: "$JS.API.".utf8)
        let isAck = !isAPI && subject.starts(with: "$JS.ACK.".utf8)
        guard isAPI || isAck || jetStream.hasStreams else { return .notJetStream }
        let server = self.server
        let replySubject = reply.map { Array($0) }
        if isAPI {
            let request = String(decoding: subject, as: UTF8.self)
            let body = Array(message[(headerLength ?? 0)...])
            // On this client's loop, not the cooperative pool: a pool kept busy by others (a loaded machine) must
            // not hold JetStream's answers past a client's request timeout.
            Task(executorPreference: loop) {
                let answer = await jetStream.handle(api: request, body: body, reply: replySubject)
                if let answer, let replySubject { server.deliverFromServer(subject: replySubject, payload: answer) }
            }
            return .apiRequest
        }
        if isAck {
            jetStream.acknowledge(
                subject: Array(subject), body: Array(message[(headerLength ?? 0)...]), reply: replySubject)
            return .apiRequest
        }
        let subjectBytes = Array(subject)
        guard let stream = jetStream.stream(capturing: subjectBytes) else { return .notJetStream }
        let headers = Array(message[..<(headerLength ?? 0)])
        let payload = Array(message[(headerLength ?? 0)...])
        stream.publish(
            subject: String(decoding: subjectBytes, as: UTF8.self), headers: headers, payload: payload,
            now: JetStream.now()
        ) { result in
            if case .success(let acknowledgement) = result, !acknowledgement.duplicate {
                jetStream.stored(in: acknowledgement.stream)
            }
            guard let replySubject else { return }
            let answer: [UInt8]
            switch result {
            case .success(let acknowledgement):
                answer = JetStreamAPI.publishAcknowledgement(
                    stream: acknowledgement.stream, sequence: acknowledgement.sequence,
                    duplicate: acknowledgement.duplicate)
            case .failure(.refused(let code, let description)):
                answer = JetStreamAPI.failure("pub_ack", code: 400, errCode: code, description)
            case .failure(let error):
                answer = JetStreamAPI.failure("pub_ack", code: 503, errCode: 10077, "\(error)")
            }
            server.deliverFromServer(subject: replySubject, payload: answer)
        }
        return .stored
    }

    /// Each queue group gets one copy, for the first member able to take it from a random start (nats-server's
    /// choice: over many messages the members share evenly, without a round-robin's lockstep).
    private func deliverToOne(
        of group: [Subscription], subject: UnsafeBufferPointer<UInt8>, reply: UnsafeBufferPointer<UInt8>?,
        headerLength: Int?, message: UnsafeBufferPointer<UInt8>
    ) {
        let start = context.random(below: group.count)
        for offset in 0..<group.count {
            let member = group[(start + offset) % group.count]
            if deliver(to: member, subject: subject, reply: reply, headerLength: headerLength, message: message) {
                return
            }
        }
    }

    /// True when the subscription took the message.
    @discardableResult
    private func deliver(
        to subscription: Subscription, subject: UnsafeBufferPointer<UInt8>, reply: UnsafeBufferPointer<UInt8>?,
        headerLength: Int?, message: UnsafeBufferPointer<UInt8>
    ) -> Bool {
        let target = subscription.mailbox
        if target === mailbox && !options.echo { return false }
        switch subscription.takeDelivery() {
        case .skip: return false
        case .deliver: break
        case .deliverAndRemove:
            subscription.markRemoved()
            server.index.remove(subscription)
        }
        let headers = target.takesHeaders.load(ordering: .relaxed)
        let before: Int
        if target.loop === loop, let connection = target.connection {
            before = connection.transport.out.bytes.count
            MessageFrame.append(
                to: &connection.transport.out.bytes, subject: subject, sid: subscription.sid, reply: reply,
                headerLength: headerLength, message: message, subscriberTakesHeaders: headers)
            target.bytesOut.add(connection.transport.out.bytes.count - before, ordering: .relaxed)
            connection.outputQueued()
            target.messagesOut.add(1, ordering: .relaxed)
        } else {
            // In place, in one look-up: the frame goes into the batch's own buffer, never copied.
            Self.add(
                to: &outgoing[ObjectIdentifier(target), default: Outgoing(mailbox: target, frames: [], messages: 0)],
                subject: subject, sid: subscription.sid, reply: reply, headerLength: headerLength, message: message,
                headers: headers)
        }
        return true
    }

    private static func add(
        to batch: inout Outgoing, subject: UnsafeBufferPointer<UInt8>, sid: [UInt8], reply: UnsafeBufferPointer<UInt8>?,
        headerLength: Int?, message: UnsafeBufferPointer<UInt8>, headers: Bool
    ) {
        MessageFrame.append(
            to: &batch.frames, subject: subject, sid: sid, reply: reply, headerLength: headerLength, message: message,
            subscriberTakesHeaders: headers)
        batch.messages += 1
    }

    /// A request nobody subscribes to: the requester's own subscription for the reply gets a 503, so that its
    /// client fails the request at once instead of at its timeout.
    private func answerNoResponders(_ reply: UnsafeBufferPointer<UInt8>) {
        let replySubject = Array(reply)
        guard
            let subscription = subscriptions.values.first(where: {
                $0.queue == nil && Subject.matches(pattern: $0.subject, subject: replySubject)
            })
        else { return }
        MessageFrame.appendNoResponders(to: &transport.out.bytes, reply: reply, sid: subscription.sid)
        outputQueued()
    }

    /// Subjects of server-to-server traffic: no client may publish to them.
    private static func isReservedForServers(_ subject: UnsafeBufferPointer<UInt8>) -> Bool {
        subject.starts(with: "_GR_.".utf8) || subject.starts(with: "$NRG.".utf8)
    }

    /// Reply subjects a client may not claim: routed replies and JetStream's acks.
    private static func isReservedReply(_ reply: UnsafeBufferPointer<UInt8>) -> Bool {
        reply.starts(with: "_R_.".utf8) || reply.starts(with: "$JS.ACK.".utf8) || reply.starts(with: "_GR_.".utf8)
    }
}
