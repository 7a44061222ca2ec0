import SkiffAPI
import SkiffMetrics
import Synchronization

/// What the worker does, per function (`name.namespace`): calls in flight and waiting for a slot now, retries
/// and dead letters so far, and every finished call with its end-to-end time (from the caller's request to the
/// function's answer). Read by `GET /system/queue` and `/metrics`.
public final class QueueActivity: Sendable {
    struct Counts: Sendable {
        var inFlight = 0
        var waiting = 0
        var retries = 0
        var dead = 0
        var redelivered = 0
    }

    struct Call: Hashable, Sendable {
        var function: String
        var code: Int
    }

    private struct State {
        var counts: [String: Counts] = [:]
        var calls = CallSeries<Call>()
    }

    private let state = Mutex(State())

    func now(_ function: String, inFlight: Int, waiting: Int) {
        state.withLock { state in
            state.counts[function, default: Counts()].inFlight = inFlight
            state.counts[function, default: Counts()].waiting = waiting
        }
    }

    func retried(_ function: String) { state.withLock { $0.counts[function, default: Counts()].retries += 1 } }

    /// A call delivered again after its last attempt went unanswered (the daemon stopped or crashed while it ran):
    /// it may be made twice.
    func redelivered(_ function: String) {
        state.withLock { $0.counts[function, default: Counts()].redelivered += 1 }
    }

    func buried(_ function: String) { state.withLock { $0.counts[function, default: Counts()].dead += 1 } }

    func finished(_ function: String, code: Int, seconds: Double) {
        state.withLock { $0.calls.record(Call(function: function, code: code), seconds: seconds) }
    }

    var counts: [String: Counts] { state.withLock { $0.counts } }

    /// Each function's line of `GET /system/queue`: `queued` (stored, by function) with what the worker counts.
    func functions(queued: [String: Int]) -> [QueueSummary.Function] {
        let counts = self.counts
        return Set(queued.keys).union(counts.keys).sorted().map { key -> QueueSummary.Function in
            let dot = key.lastIndex(of: ".") ?? key.endIndex
            let count = counts[key]
            return QueueSummary.Function(
                name: String(key[..<dot]), namespace: dot < key.endIndex ? String(key[key.index(after: dot)...]) : "",
                queued: queued[key] ?? 0, inFlight: count?.inFlight ?? 0, retries: count?.retries ?? 0,
                deadLetters: count?.dead ?? 0, redelivered: count?.redelivered ?? 0)
        }
    }

    /// What a worker holds of each function's calls: in flight and waiting for a slot (all a machine knows of a
    /// queue kept on a cluster, without reading every call).
    var held: [String: Int] { counts.mapValues { $0.inFlight + $0.waiting }.filter { $0.value > 0 } }

    func families(queued: [String: Int]) -> [MetricFamily] {
        let (counts, calls) = state.withLock { ($0.counts, $0.calls) }
        var families = [
            MetricFamily("skiff_queue_queued", .gauge, help: "Asynchronous calls stored and not yet done."),
            MetricFamily("skiff_queue_in_flight", .gauge, help: "Asynchronous calls being made now."),
            MetricFamily(
                "skiff_queue_retries_total", .counter, help: "Asynchronous calls tried again after a busy answer."),
            MetricFamily(
                "skiff_queue_dead_letters_total", .counter, help: "Asynchronous calls kept after their last attempt."),
            MetricFamily(
                "skiff_queue_redelivered_total", .counter,
                help: "Asynchronous calls made again because their last attempt went unanswered (possible duplicates)."),
        ]
        for function in Set(counts.keys).union(queued.keys).sorted() {
            let label = [MetricLabel("function_name", function)]
            let count = counts[function] ?? Counts()
            families[0].add(label, Double(queued[function] ?? 0))
            families[1].add(label, Double(count.inFlight))
            families[2].add(label, Double(count.retries))
            families[3].add(label, Double(count.dead))
            families[4].add(label, Double(count.redelivered))
        }
        return families
            + calls.families(
                count: "skiff_queue_calls_total", countHelp: "Asynchronous calls finished, by the function's answer.",
                seconds: "skiff_queue_call_seconds",
                secondsHelp: "Time from the caller's request to the function's answer, queueing and retries included.",
                labels: { [MetricLabel("code", String($0.code)), MetricLabel("function_name", $0.function)] },
                order: { ($0.function, $0.code) < ($1.function, $1.code) })
    }
}
