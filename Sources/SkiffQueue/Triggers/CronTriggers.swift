import Foundation
import SkiffAPI
import SkiffInvoke
import SkiffLog
import SkiffPOSIX
import SkiffRuntime
import Synchronization

/// Functions run on a schedule, as OpenFaaS's cron-connector runs them: the annotations `topic: cron-function`
/// and `schedule: "*/5 * * * *"`. Each firing is queued like an asynchronous call (so it is retried and survives a
/// restart); when it fires is kept on disk, and a firing missed while the daemon was down runs once at start, not
/// once per missed slot. Follows deploys, updates and removals at once. A long-lived service of the daemon.
public final class CronTriggers: Sendable {
    public static let topic = "cron-function"

    let queue: any CallQueue
    let runtime: any FunctionRuntime
    let stateFile: String
    let timeZone: TimeZone
    let logger: Logger
    /// Schedules already reported as unreadable, so that each is logged once.
    private let reported = Mutex<Set<String>>([])

    public init(
        queue: any CallQueue, runtime: any FunctionRuntime, stateFile: String,
        timeZone: TimeZone = TimeZone(identifier: "UTC") ?? .current, logger: Logger
    ) {
        self.queue = queue
        self.runtime = runtime
        self.stateFile = stateFile
        self.timeZone = timeZone
        self.logger = logger
    }

    /// What a binding does at `now`, given when it last fired (nil: just bound): fire once if any slot has passed
    /// since (however many), and from when to count the next.
    static func decide(lastFired: Date?, now: Date, schedule: CronSchedule, timeZone: TimeZone) -> (
        fire: Bool, lastFired: Date
    ) {
        guard let lastFired else { return (false, now) }
        guard let due = schedule.next(after: lastFired, in: timeZone), due <= now else { return (false, lastFired) }
        return (true, now)
    }

    public func run() async {
        var lastFired = load()
        while !Task.isCancelled {
            let seen = runtime.definitionChanges.generation
            let bindings = await currentBindings()
            let now = Date()
            var wake = now.addingTimeInterval(60)
            var changed = false
            for (key, binding) in bindings.sorted(by: { $0.key < $1.key }) {
                let decision = Self.decide(
                    lastFired: lastFired[key], now: now, schedule: binding.schedule, timeZone: timeZone)
                if decision.fire { await fire(binding) }
                if lastFired[key] != decision.lastFired {
                    lastFired[key] = decision.lastFired
                    changed = true
                }
                if let next = binding.schedule.next(after: decision.lastFired, in: timeZone) { wake = min(wake, next) }
            }
            // Removed functions (or ones no longer scheduled) forget their last firing.
            let bound = lastFired.filter { bindings[$0.key] != nil }
            if bound.count != lastFired.count {
                lastFired = bound
                changed = true
            }
            if changed { save(lastFired) }
            await runtime.definitionChanges.wait(
                after: seen, until: .now + .milliseconds(Int64(max(wake.timeIntervalSinceNow, 0) * 1000) + 1))
        }
    }

    struct Binding: Sendable {
        var function: FunctionAddress
        var schedule: CronSchedule
        /// The function's own queue (`com.openfaas.queue`), nil for the default one.
        var queue: String?
    }

    /// The schedule a function's annotations ask for, if they ask for one: `topic` (a comma-separated list, as
    /// the connectors read it) naming `cron-function`, and `schedule`. The gateway calls this to refuse an unreadable
    /// schedule at deploy time with 400, instead of a function that silently never runs.
    public static func schedule(annotations: [String: String]) throws(CronSchedule.Invalid) -> CronSchedule? {
        guard TopicAnnotation.topics(annotations).contains(topic) else { return nil }
        guard let text = annotations["schedule"] else {
            throw CronSchedule.Invalid(
                description: "the topic \(topic) needs a schedule annotation, e.g. schedule: \"*/5 * * * *\"")
        }
        return try CronSchedule(text)
    }

    private func currentBindings() async -> [String: Binding] {
        var bindings: [String: Binding] = [:]
        for status in await runtime.listAll() {
            let definition = status.definition
            let function = FunctionAddress(uncheckedName: definition.name, namespace: definition.namespace)
            do {
                guard let schedule = try Self.schedule(annotations: definition.annotations) else { continue }
                bindings[function.qualified] = Binding(
                    function: function, schedule: schedule,
                    queue: (try? QueueLane.name(annotations: definition.annotations)) ?? nil)
            } catch {
                // Deployed before this daemon checked schedules, or through another path: logged once.
                let text = definition.annotations["schedule"] ?? ""
                if reported.withLock({ $0.insert("\(function.qualified) \(text)").inserted }) {
                    logger.warning("\(function.qualified) is not scheduled: \(error)", ["function": function.qualified])
                }
            }
        }
        return bindings
    }

    private func fire(_ binding: Binding) async {
        let callID = CallID.make()
        let started = String(Int64(Date().timeIntervalSince1970 * 1e9))
        var request = QueueRequest(
            function: binding.function.qualified, method: "POST",
            header: ["X-Call-Id": [callID], "X-Start-Time": [started], "X-Connector": ["cron-connector"]],
            path: "/")
        request.queueName = binding.queue
        do {
            _ = try await queue.enqueue(request, callID: callID)
            logger.info(
                "scheduled call queued",
                [
                    "function": binding.function.qualified, "call_id": callID,
                    "schedule": binding.schedule.text,
                ])
        } catch {
            logger.error("cannot queue the scheduled call of \(binding.function.qualified): \(error)")
        }
    }

    private func load() -> [String: Date] {
        guard let data = FileManager.default.contents(atPath: stateFile),
            let seconds = try? JSONDecoder().decode([String: Double].self, from: data)
        else { return [:] }
        return seconds.mapValues { Date(timeIntervalSince1970: $0) }
    }

    private func save(_ lastFired: [String: Date]) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let bytes = try? encoder.encode(lastFired.mapValues(\.timeIntervalSince1970)) else { return }
        do {
            try DurableFile.write(Array(bytes), to: stateFile)
        } catch {
            logger.error("cannot keep the schedules' last firings in \(stateFile): \(error)")
        }
    }
}
