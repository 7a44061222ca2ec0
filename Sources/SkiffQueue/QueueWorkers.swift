/// A worker for every queue, and the callbacks' worker: the default one, the named ones found at start, and each named queue opened while
/// the daemon runs (the first call queued for a function annotated `com.openfaas.queue`). A long-lived service
/// of the daemon; each worker keeps its own limits, so a backlog in one queue never holds back another.
public struct QueueWorkers: Sendable {
    let queue: AsyncQueue
    let callbacks: CallbackWorker
    let make: @Sendable (QueueLane) -> QueueWorker

    /// `make` gives the worker for a queue (its settings and logger); `callbacks` delivers every queue's callbacks.
    public init(
        queue: AsyncQueue, callbacks: CallbackWorker, make: @escaping @Sendable (QueueLane) -> QueueWorker
    ) {
        self.queue = queue
        self.callbacks = callbacks
        self.make = make
    }

    /// Runs until cancelled, then cancels every worker.
    public func run() async {
        await withDiscardingTaskGroup { workers in
            workers.addTask { await callbacks.run() }
            var started = Set<String>()
            while !Task.isCancelled {
                let seen = queue.lanesChanged.generation
                for lane in queue.lanes where started.insert(lane.label).inserted {
                    let worker = make(lane)
                    workers.addTask { await worker.run() }
                }
                await queue.lanesChanged.wait(after: seen, until: .now + .seconds(3600))
            }
            workers.cancelAll()
        }
    }
}
