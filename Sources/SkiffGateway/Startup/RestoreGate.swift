import SkiffHTTP
import Synchronization

/// Closed until the runtime has restored the recorded functions. Before that the daemon must not act as if no
/// function existed: a `/function/` call waits (bounded, like a cold start) and the system API answers 503 with
/// `Retry-After`, because a list would be empty and a deploy would race the restore of the same name.
final class RestoreGate: Sendable {
    private struct State {
        var open = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Bool, Never>] = [:]
    }
    private let state = Mutex(State())

    var isOpen: Bool { state.withLock { $0.open } }

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            state.open = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    /// Whether the gate opened within `timeout`.
    func wait(upTo timeout: Duration) async -> Bool {
        if isOpen { return true }
        return await withCheckedContinuation { continuation in
            let id = state.withLock { state -> Int? in
                if state.open { return nil }
                state.nextID += 1
                state.waiters[state.nextID] = continuation
                return state.nextID
            }
            guard let id else { return continuation.resume(returning: true) }
            Task {
                try? await Task.sleep(for: timeout)
                let expired = self.state.withLock { $0.waiters.removeValue(forKey: id) }
                expired?.resume(returning: false)
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
        let path = request.path
        if path.hasPrefix("/function/") || path.hasPrefix("/async-function/") {
            guard await gate.wait(upTo: invocationWait) else {
                return GatewayError(503, "skiff is starting: functions are still being restored; retry shortly")
                    .response(retryAfter: 1)
            }
        } else if path.hasPrefix("/system/") || path == "/system" {
            return GatewayError(503, "restoring functions, retry shortly").response(retryAfter: 1)
        }
        return try await next.respond(to: request)
    }
}
