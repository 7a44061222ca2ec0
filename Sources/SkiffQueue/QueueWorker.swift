import Foundation
import SkiffHTTP
import SkiffInvoke
import SkiffLog
import SkiffPOSIX
import SkiffRuntime
import SkiffStream
import Synchronization

/// Takes queued calls and makes them through the same ``FunctionInvoker`` as `/function/NAME`: retried with
/// back-off when the answer says the function was busy or unreachable, kept as dead letters when their attempts
/// are used up, and answered to their callback URL. A long-lived service of the daemon.
///
/// Each function gets at most its limit of calls at once (the `com.openfaas.queue.max_inflight` label, else its
/// ready replicas, at least one); calls beyond it wait in the worker, in order, while other functions' calls go
/// ahead, so one slow function cannot hold the queue.
public final class QueueWorker: Sendable {
    public struct Settings: Sendable {
        public var retry = RetryPolicy()
        /// Calls in flight at once, every function together.
        public var maxInFlight = 256
        /// What `X-Served-By`-style headers and logs call this worker.
        public var userAgent = "skiff-queue-worker"
        /// Where answers go for calls that came with a NATS reply subject (a request to a subject trigger).
        public var replies: (any ReplyPublisher)?
        public init() {}
    }

    /// The label that bounds a function's calls in flight from the queue.
    public static let maxInFlightLabel = "com.openfaas.queue.max_inflight"

    let queue: any CallQueue
    /// The queue this worker takes calls from (the default one, or a named one).
    let lane: any CallLane
    /// Where the lane's deliveries come from and are answered.
    let source: any WorkSource
    let invoker: FunctionInvoker
    let runtime: any FunctionRuntime
    let settings: Settings
    let logger: Logger
    /// Completions and held calls becoming due wake the dispatcher through this (new messages through the
    /// stream's own signal).
    private let wake = ChangeSignal()
    private let state = Mutex(State())

    private struct State {
        var inFlight = 0
        var perFunction: [String: Int] = [:]
        /// Calls over their function's limit, oldest first.
        var held: [String: Waiting] = [:]
        var heldTotal = 0
        var lastKeepAlive: ContinuousClock.Instant?
        var limits: [String: (limit: Int, until: ContinuousClock.Instant)] = [:]
        /// The lane's purges seen so far.
        var purges: UInt64 = 0
    }

    /// A worker for `lane` (the default queue when nil).
    public init(
        queue: any CallQueue, lane: (any CallLane)? = nil, invoker: FunctionInvoker, runtime: any FunctionRuntime,
        settings: Settings = Settings(), logger: Logger
    ) {
        self.queue = queue
        // The default queue is always the first.
        self.lane = lane ?? queue.lanes[0]
        source = self.lane.source
        self.invoker = invoker
        self.runtime = runtime
        self.settings = settings
        self.logger = logger
    }

    /// A delivery and the call it holds, read once when it is taken from the consumer; nil when the payload is
    /// not a call of a valid function (it is then buried).
    struct Job: Sendable {
        var delivery: StreamConsumer.Delivery
        var call: (request: QueueRequest, function: FunctionAddress)?
    }

    /// Runs until cancelled; calls in flight then are abandoned to the queue (delivered again after a restart).
    /// (A discarding group: a plain one keeps every finished call's task until it is awaited, which this loop
    /// never does, so the daemon's memory would grow with every call it ever made.)
    public func run() async {
        await withDiscardingTaskGroup { calls in
            calls.addTask { await self.source.pullAhead() }
            while !Task.isCancelled {
                let seenStored = source.arrivals.generation
                let seenWake = wake.generation
                let dispatchable = await takeDispatchable()
                // A crash must not hide a call that was already started: that it started is on disk first, so
                // that after a restart it comes back marked and is counted as a possible duplicate. Calls held
                // for their function's turn are not marked: they were never made.
                for job in dispatchable { source.started(job.delivery.message.sequence) }
                if !dispatchable.isEmpty { await source.deliveriesKept() }
                for job in dispatchable {
                    if job.delivery.afterSilence, let function = job.call?.function {
                        queue.activity.redelivered(function.qualified)
                    }
                    calls.addTask { await self.process(job) }
                }
                keepHeldAlive()
                let next = source.nextDeadline.map { Self.instant(at: $0) }
                let deadline = min(next ?? .now + .seconds(5), .now + .seconds(5))
                await ChangeSignal.wait(
                    forAnyOf: [(source.arrivals, seenStored), (wake, seenWake)], until: deadline)
            }
            calls.cancelAll()
        }
    }

    // MARK: Dispatch

    /// Held calls whose function has room, then new deliveries while the worker has room: each either goes now
    /// or waits behind its function's calls.
    private func takeDispatchable() async -> [Job] {
        dropPurged()
        var ready: [Job] = []
        // Held calls first, in order, for every function that has room again.
        let heldFunctions = state.withLock { Array($0.held.keys) }
        for key in heldFunctions {
            let limit = await limit(forKey: key)
            ready += state.withLock { state -> [Job] in
                var taken: [Job] = []
                while state.inFlight < settings.maxInFlight, state.perFunction[key, default: 0] < limit,
                    let job = state.held[key]?.removeFirst()
                {
                    state.heldTotal -= 1
                    if state.held[key]?.isEmpty == true { state.held[key] = nil }
                    // Purged while it waited (`skiff queue purge`): the consumer took it back.
                    guard source.isPending(job.delivery.message.sequence) else { continue }
                    state.inFlight += 1
                    state.perFunction[key, default: 0] += 1
                    taken.append(job)
                }
                return taken
            }
        }
        // Held calls are bounded: past the bound, new deliveries wait in the stream (on disk), not in memory.
        while state.withLock({ $0.inFlight < settings.maxInFlight && $0.heldTotal < Self.maxHeld }) {
            let (delivery, events) = source.next(now: AsyncQueue.now())
            for case .maxDeliveries(let sequence, let deliveries) in events {
                logger.warning(
                    "queued call delivered \(deliveries) times without an answer", ["sequence": "\(sequence)"])
            }
            guard let delivery else { break }
            let job = Job(delivery: delivery, call: queue.call(in: delivery.message.payload))
            guard let function = job.call?.function else {
                // Unreadable: taken out of the way (and kept) by `process`, which needs no slot of a function.
                state.withLock { $0.inFlight += 1 }
                ready.append(job)
                continue
            }
            let key = function.qualified
            let limit = await limit(for: function)
            let goes = state.withLock { state -> Bool in
                if state.held[key] == nil, state.perFunction[key, default: 0] < limit {
                    state.inFlight += 1
                    state.perFunction[key, default: 0] += 1
                    return true
                }
                state.held[key, default: Waiting()].append(job)
                state.heldTotal += 1
                return false
            }
            if goes { ready.append(job) }
        }
        reportActivity()
        return ready
    }

    /// After a purge, the held calls it took back leave the worker at once: left until their function had room,
    /// they counted against ``maxHeld`` meanwhile, and a function busy with a long call kept every other
    /// function's calls from being taken.
    private func dropPurged() {
        let purges = lane.purged.generation
        guard state.withLock({ $0.purges }) != purges else { return }
        state.withLock { state in
            state.purges = purges
            for (key, waiting) in state.held {
                let kept = waiting.jobs.filter { source.isPending($0.delivery.message.sequence) }
                guard kept.count < waiting.count else { continue }
                state.heldTotal -= waiting.count - kept.count
                var rebuilt = Waiting()
                for job in kept { rebuilt.append(job) }
                state.held[key] = rebuilt.isEmpty ? nil : rebuilt
            }
        }
        reportActivity()
    }

    /// One function's held calls, oldest first: taken from the front without moving the rest (a thousand calls
    /// copied for every call taken was a measurable part of the worker's time).
    struct Waiting {
        private var buffer: [Job] = []
        private var head = 0

        var count: Int { buffer.count - head }
        var isEmpty: Bool { head == buffer.count }
        var jobs: ArraySlice<Job> { buffer[head...] }

        mutating func append(_ job: Job) { buffer.append(job) }

        mutating func removeFirst() -> Job? {
            guard head < buffer.count else { return nil }
            let job = buffer[head]
            head += 1
            // Taken calls are dropped once they are most of the buffer: amortised, each is moved at most once.
            if head >= 64 && head * 2 >= buffer.count {
                buffer.removeFirst(head)
                head = 0
            }
            return job
        }
    }

    /// Calls held for their function's turn at once, all functions together.
    static let maxHeld = 1024

    /// Held calls are delivered and not yet acknowledged: without a word they would be delivered again after the
    /// ack wait and held twice. Said every quarter of the ack wait (the loop turns at least every five seconds; it
    /// turns far more often under load, when saying it at every turn cost 3 % of the daemon's CPU).
    private func keepHeldAlive() {
        let interval = Duration.nanoseconds(max(source.ackWait / 4, 1_000_000))
        let sequences = state.withLock { state -> [UInt64] in
            guard state.lastKeepAlive.map({ ContinuousClock.now - $0 >= interval }) ?? true else { return [] }
            state.lastKeepAlive = .now
            return state.held.values.flatMap { $0.jobs.map(\.delivery.message.sequence) }
        }
        let now = AsyncQueue.now()
        for sequence in sequences { source.inProgress(sequence, now: now) }
    }

    /// Tells the queue's activity how many calls each function has in flight and waiting now.
    private func reportActivity() {
        let counts = state.withLock { state in
            Set(state.perFunction.keys).union(state.held.keys).map {
                ($0, state.perFunction[$0] ?? 0, state.held[$0]?.count ?? 0)
            }
        }
        for (function, inFlight, waiting) in counts {
            queue.activity.now(function, inFlight: inFlight, waiting: waiting)
        }
    }

    private static func address(fromKey key: String) -> FunctionAddress? {
        guard let dot = key.lastIndex(of: ".") else { return nil }
        return FunctionAddress(uncheckedName: String(key[..<dot]), namespace: String(key[key.index(after: dot)...]))
    }

    private func limit(forKey key: String) async -> Int {
        guard let address = Self.address(fromKey: key) else { return 1 }
        return await limit(for: address)
    }

    /// The function's label, else its ready replicas (at least one); looked up again every few seconds, so that
    /// a scale or an update is followed.
    private func limit(for function: FunctionAddress) async -> Int {
        let key = function.qualified
        if let cached = state.withLock({ $0.limits[key] }), cached.until > .now { return cached.limit }
        var limit = max(1, runtime.endpoints(name: function.name, namespace: function.namespace).count)
        if let status = try? await runtime.status(name: function.name, namespace: function.namespace),
            let text = status.definition.labels[Self.maxInFlightLabel], let value = Int(text), value > 0
        {
            limit = value
        }
        state.withLock { $0.limits[key] = (limit, .now + .seconds(5)) }
        return limit
    }

    /// The function's slot, given back as soon as its call is settled (answered, retried or buried): a slow
    /// callback receiver must not hold back the function's next calls.
    private func releaseFunction(_ function: FunctionAddress) {
        let key = function.qualified
        let (inFlight, waiting) = state.withLock { state -> (Int, Int) in
            state.perFunction[key, default: 1] -= 1
            if state.perFunction[key] == 0 { state.perFunction[key] = nil }
            return (state.perFunction[key] ?? 0, state.held[key]?.count ?? 0)
        }
        queue.activity.now(key, inFlight: inFlight, waiting: waiting)
        wake.notify()
    }

    /// The worker's slot, given back when everything for the call is done, its callback included: callbacks
    /// count against the worker's limit, so a receiver that never answers slows the worker instead of piling up.
    private func releaseWorkerSlot() {
        state.withLock { $0.inFlight -= 1 }
        wake.notify()
    }

    private static func instant(at nanoseconds: Int64) -> ContinuousClock.Instant {
        .now + .nanoseconds(max(nanoseconds - AsyncQueue.now(), 0))
    }

    // MARK: One call

    private func process(_ job: Job) async {
        defer { releaseWorkerSlot() }
        let message = job.delivery.message
        let attempt = job.delivery.deliveries
        guard let (request, function) = job.call else {
            await bury(message, attempts: attempt, reason: "not a queued call (QueueRequest JSON) for a valid function")
            return
        }
        let stored = AsyncQueue.headerFields(message.headers)
        // The call id goes into the function's request and the callback's headers: one that cannot be a header value
        // (a NATS client may have queued anything) is replaced.
        let callID =
            [stored["X-Call-Id"], request.headerValue("X-Call-Id")].compactMap { $0 }.first {
                !$0.isEmpty && $0.utf8.count <= 256 && HTTPHeaders.isValidValue($0)
            } ?? CallID.make()
        // Still working on it: said at half the ack wait, so a long call is not delivered again meanwhile.
        let keepAlive = source.keepInProgress(message.sequence, now: AsyncQueue.now)
        let started = ContinuousClock.now
        let outcome = await FunctionCall.make(request, function: function, callID: callID, invoker: invoker)
        keepAlive.cancel()
        let seconds = (ContinuousClock.now - started).seconds
        if RetryPolicy.isRetried(status: outcome.status, internalFailure: outcome.internalFailure) {
            if attempt < settings.retry.maxAttempts {
                let wait = settings.retry.wait(afterAttempt: attempt)
                logger.info(
                    "queued call will be tried again",
                    [
                        "function": function.qualified, "call_id": callID, "status": "\(outcome.status)",
                        "attempt": "\(attempt)", "retry_in": String(format: "%.3f", wait.seconds),
                    ])
                source.negativeAcknowledge(
                    message.sequence, delay: Int64(wait.nanoseconds), now: AsyncQueue.now())
                queue.activity.retried(function.qualified)
                releaseFunction(function)
                return
            }
            // Kept as a dead letter before its callback is, so that whoever gets the callback finds it there.
            guard
                await keepDeadLetter(
                    message, attempts: attempt, reason: "\(attempt) attempts; the last answered \(outcome.status)")
            else {
                releaseFunction(function)
                return
            }
            queue.activity.buried(function.qualified)
        }
        // The callback is on disk before the call is acknowledged: a crash in between makes the call again, and
        // never loses its callback. Checked again as a URL, whoever queued it: a decoded `CallbackUrl` object's
        // fields are taken as written.
        if let given = request.callbackURL?.text ?? request.headerValue("X-Callback-Url") {
            if let callback = GoURL(given)?.text {
                await keepCallback(
                    to: callback, outcome: outcome, function: request.function, callID: callID, seconds: seconds)
            } else {
                logger.warning("callback URL cannot be called: \(given.debugDescription)", ["call_id": callID])
            }
        }
        // The function's slot is free once the call is settled; the ack's deletion goes to disk meanwhile (a crash
        // before it makes the call again, counted as a possible duplicate, as for any call in flight).
        let released = source.release(message.sequence)
        releaseFunction(function)
        if released { await source.settle(message.sequence) }
        // End to end: from the caller's request (its X-Start-Time) to the answer, queueing and retries included.
        let queuedAt = request.headerValue("X-Start-Time").flatMap(Int64.init) ?? message.time
        queue.activity.finished(
            function.qualified, code: outcome.status, seconds: Double(max(AsyncQueue.now() - queuedAt, 0)) / 1e9)
        if let subject = stored[AsyncQueue.replySubjectHeader], let replies = settings.replies {
            await replies.publishReply(to: subject, outcome: outcome, callID: callID)
        }
    }

    /// Keeps a call that cannot be made (unreadable) as a dead letter and takes it out of the queue.
    private func bury(_ message: StoredMessage, attempts: Int, reason: String) async {
        if await keepDeadLetter(message, attempts: attempts, reason: reason) {
            await source.acknowledge(message.sequence)
        }
    }

    /// Stores the call on the dead letters' stream; false when it could not (it is then left in the queue, where
    /// it comes back after the ack wait).
    private func keepDeadLetter(_ message: StoredMessage, attempts: Int, reason: String) async -> Bool {
        do {
            try await queue.bury(message, from: lane, reason: reason, attempts: attempts)
            logger.warning("queued call kept as a dead letter", ["sequence": "\(message.sequence)", "reason": reason])
            return true
        } catch {
            logger.error("cannot keep a dead letter: \(error)", ["sequence": "\(message.sequence)"])
            return false
        }
    }

    // MARK: Callbacks

    /// Stores the callback of a finished call for ``CallbackWorker``: the function's answer, with its headers and
    /// the ones OpenFaaS adds.
    private func keepCallback(
        to url: String, outcome: FunctionCall.Outcome, function: String, callID: String, seconds: Double
    ) async {
        var headers = HTTPHeaders()
        for field in outcome.headers where !FunctionCall.notForwarded.contains(field.name.lowercased()) {
            headers.add(name: field.name, value: field.value)
        }
        headers.replaceOrAdd(name: "X-Call-Id", value: callID)
        headers.replaceOrAdd(name: "X-Function-Status", value: String(outcome.status))
        headers.replaceOrAdd(name: "X-Function-Name", value: function)
        headers.replaceOrAdd(name: "X-Duration-Seconds", value: String(format: "%.6f", seconds))
        headers.replaceOrAdd(name: "User-Agent", value: settings.userAgent)
        do {
            try await queue.enqueueCallback(to: url, headers: headers, body: outcome.body)
        } catch {
            logger.error("cannot keep the callback of a finished call: \(error)", ["call_id": callID, "url": url])
        }
    }
}
