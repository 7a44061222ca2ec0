import SkiffHTTP
import SkiffPOSIX
import Synchronization

/// Closed until the runtime has restored the recorded functions. Before that the daemon must not act as if no
/// function existed: a `/function/` call waits (bounded, like a cold start) and the system API answers 503 with
/// `Retry-After`, because a list would be empty and a deploy would race the restore of the same name.
final class RestoreGate: Sendable {
    /// Read by every request: lock-free.
    private let isOpenFlag = Atomic<Bool>(false)
    private let opened = ChangeSignal()

    var isOpen: Bool { isOpenFlag.load(ordering: .acquiring) }

    func open() {
        isOpenFlag.store(true, ordering: .releasing)
        opened.notify()
    }

    /// Whether the gate opened within `timeout`.
    func wait(upTo timeout: Duration) async -> Bool {
        await opened.first(until: .now + timeout) { isOpen ? () : nil } != nil
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
        case .other, .metricsQuery:
            break
        }
        return try await next.respond(to: request)
    }
}
