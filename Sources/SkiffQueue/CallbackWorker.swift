import SkiffHTTP
import SkiffLog
import SkiffNATSClient
import SkiffPOSIX
import SkiffStream
import Synchronization

/// Delivers the callbacks of finished calls from the `skiff-callbacks` stream: a POST of the function's answer to
/// the caller's callback URL, tried again with the queue's back-off while the receiver refuses, resets or answers
/// 5xx, and given up (logged) after the queue's attempts. The callback is on disk before its call is
/// acknowledged, so a receiver that is down when the daemon stops still gets it after the restart. A long-lived
/// service of the daemon, run beside the queues' workers.
public final class CallbackWorker: Sendable {
    let queue: any CallQueue
    let client: HTTPClient
    let retry: RetryPolicy
    let logger: Logger
    /// Callbacks being delivered at once: a receiver that never answers holds one slot each, up to this.
    static let maxInFlight = 64
    /// How long one POST may take.
    static let timeout = Duration.seconds(30)
    private let inFlight = Mutex(0)
    private let wake = ChangeSignal()

    public init(queue: any CallQueue, client: HTTPClient, retry: RetryPolicy, logger: Logger) {
        self.queue = queue
        self.client = client
        self.retry = retry
        self.logger = logger
    }

    /// Runs until cancelled; callbacks being delivered then are delivered again after a restart.
    public func run() async {
        let consumer = queue.callbackSource
        await withDiscardingTaskGroup { deliveries in
            deliveries.addTask { await consumer.pullAhead() }
            while !Task.isCancelled {
                let seenStored = consumer.arrivals.generation
                let seenWake = wake.generation
                while inFlight.withLock({ $0 < Self.maxInFlight }),
                    let delivery = consumer.next(now: AsyncQueue.now()).delivery
                {
                    inFlight.withLock { $0 += 1 }
                    deliveries.addTask {
                        await self.deliver(delivery)
                        self.inFlight.withLock { $0 -= 1 }
                        self.wake.notify()
                    }
                }
                let due = consumer.nextDeadline.map {
                    ContinuousClock.now + .nanoseconds(max($0 - AsyncQueue.now(), 0))
                }
                let deadline = min(due ?? .now + .seconds(5), .now + .seconds(5))
                await ChangeSignal.wait(
                    forAnyOf: [(consumer.arrivals, seenStored), (wake, seenWake)], until: deadline)
            }
        }
    }

    private func deliver(_ delivery: StreamConsumer.Delivery) async {
        let consumer = queue.callbackSource
        let message = delivery.message
        var headers = HTTPHeaders()
        var url: String?
        for field in HeaderBlock.decode(message.headers[...])?.headers ?? [] {
            if field.name == AsyncQueue.callbackURLHeader {
                url = field.value
            } else if HTTPHeaders.isToken(field.name) && HTTPHeaders.isValidValue(field.value) {
                // Any NATS client may have stored this one: what HTTP cannot carry is left out.
                headers.add(name: field.name, value: field.value)
            }
        }
        let callID = headers["X-Call-Id"] ?? ""
        guard let url,
            let request = try? HTTPClientRequest(
                method: .post, url: url, headers: headers, body: .bytes(message.payload))
        else {
            logger.warning("a stored callback cannot be sent; dropped", ["sequence": "\(message.sequence)"])
            await consumer.terminate(message.sequence)
            return
        }
        // Still delivering: a slow receiver does not get the callback twice.
        let keepAlive = consumer.keepInProgress(message.sequence, now: AsyncQueue.now)
        defer { keepAlive.cancel() }
        let failure: String
        do {
            let (head, _) = try await client.fetch(request, timeout: Self.timeout, maxBytes: 1 << 20)
            if head.status.code < 500 {
                await consumer.acknowledge(message.sequence)
                return
            }
            failure = "answered \(head.status.code)"
        } catch {
            failure = "\(error)"
        }
        let attempt = delivery.deliveries
        guard attempt < retry.maxAttempts else {
            logger.warning(
                "callback not delivered", ["call_id": callID, "url": url, "attempts": "\(attempt)", "last": failure])
            await consumer.terminate(message.sequence)
            return
        }
        consumer.negativeAcknowledge(
            message.sequence, delay: Int64(retry.wait(afterAttempt: attempt).nanoseconds), now: AsyncQueue.now())
        wake.notify()
    }
}
