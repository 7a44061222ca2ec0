import SkiffHTTP
import Synchronization

/// Closed until the runtime has restored the recorded functions. Before that the daemon must not act as if no
/// function existed: a `/function/` call waits (bounded, like a cold start) and the system API answers 503 with
/// `Retry-After`, because a list would be empty and a deploy would race the restore of the same name.
final class RestoreGate: Sendable {
    /// Read by every request: lock-free. The waiters, touched only before the gate opens, sit behind a lock.
    private let isOpenFlag = Atomic<Bool>(false)
    private struct Waiters {
        var nextID = 0
        var waiting: [Int: (continuation: CheckedContinuation<Bool, Never>, expiry: Task<Void, Never>)] = [:]
    }
    private let waiters = Mutex(Waiters())

    var isOpen: Bool { isOpenFlag.load(ordering: .acquiring) }

    func open() {
        let woken = waiters.withLock { state in
            // Set under the lock, so a waiter either sees the gate open or is in the list emptied here.
            isOpenFlag.store(true, ordering: .releasing)
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for waiter in woken {
            waiter.expiry.cancel()
            waiter.continuation.resume(returning: true)
        }
    }

    /// Whether the gate opened within `timeout`.
    func wait(upTo timeout: Duration) async -> Bool {
        if isOpen { return true }
        return await withCheckedContinuation { continuation in
            waiters.withLock { state in
                guard !isOpenFlag.load(ordering: .acquiring) else { return continuation.resume(returning: true) }
                state.nextID += 1
                let id = state.nextID
                let expiry = Task {
                    try? await Task.sleep(for: timeout)
                    guard !Task.isCancelled else { return }
                    let expired = self.waiters.withLock { $0.waiting.removeValue(forKey: id) }
                    expired?.continuation.resume(returning: false)
                }
                state.waiting[id] = (continuation, expiry)
            }
        }
    }
}

/// The gate in front of every route but `/healthz` and `/metrics`, which report the start-up themselves.
struct RestoreGateMiddleware: HTTPMiddleware {
    let gate: RestoreGate
    let invocationWait: Duration

    func respond(to request: HTTPRequest, next: any HTTPResponder) async throws -> HTTPResponse {
        if gate.isOpen { return try await next.respond(to: request) }
        switch GatewayScope(request.path) {
        case .invocation:
            guard await gate.wait(upTo: invocationWait) else {
                return GatewayError(503, "skiff is starting: functions are still being restored; retry shortly")
                    .response(retryAfter: 1)
            }
        case .system:
            return GatewayError(503, "restoring functions, retry shortly").response(retryAfter: 1)
        case .other:
            break
        }
        return try await next.respond(to: request)
    }
}
