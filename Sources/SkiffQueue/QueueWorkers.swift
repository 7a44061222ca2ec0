import SkiffRuntime

/// A worker for every queue, and the callbacks' worker: the default queue, the named ones found at start, and each
/// named queue opened while the daemon runs (when a function annotated `com.openfaas.queue` is deployed, so that
/// NATS clients can publish to its subject before its first call). A long-lived service of the daemon; each
/// worker keeps its own limits, so a backlog in one queue never holds back another.
public struct QueueWorkers: Sendable {
    let queue: any CallQueue
    let runtime: any FunctionRuntime
    let callbacks: CallbackWorker
    let make: @Sendable (any CallLane) -> QueueWorker

    /// `make` gives the worker for a queue (its settings and logger); `callbacks` delivers every queue's callbacks.
    public init(
        queue: any CallQueue, runtime: any FunctionRuntime, callbacks: CallbackWorker,
        make: @escaping @Sendable (any CallLane) -> QueueWorker
    ) {
        self.queue = queue
        self.runtime = runtime
        self.callbacks = callbacks
        self.make = make
    }

    /// Runs until cancelled, then cancels every worker.
    public func run() async {
        await withDiscardingTaskGroup { workers in
            workers.addTask { await callbacks.run() }
            workers.addTask { await openDeclaredQueues() }
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

    /// Opens the queue each deployed function names, as deploys and updates happen. (A name that cannot be a
    /// queue's was refused at deploy; a queue that cannot be opened now is opened by its first call, which reports
    /// why if it still cannot.)
    private func openDeclaredQueues() async {
        while !Task.isCancelled {
            let seen = runtime.definitionChanges.generation
            for status in await runtime.listAll() {
                guard let name = (try? QueueLane.name(annotations: status.definition.annotations)) ?? nil else {
                    continue
                }
                _ = try? await queue.lane(name)
            }
            await runtime.definitionChanges.wait(after: seen, until: .now + .seconds(60))
        }
    }
}
