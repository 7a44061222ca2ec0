import Foundation
import SkiffAPI
import SkiffHTTP
import SkiffLog
import SkiffPOSIX
import SkiffRuntime

/// The one path by which anything calls a function: `/function/NAME` today, the asynchronous worker, event
/// triggers and schedules next. Acquire a replica (waking a function at zero and waiting for its first replica),
/// forward the request to it, count the call, and keep the replica counted busy until the answer has been
/// consumed. Runs on the caller's event loop, and so does the upstream request.
public struct FunctionInvoker: Sendable {
    let runtime: any FunctionRuntime
    let client: HTTPClient
    public let metrics: InvocationMetrics
    public let timeouts: TimeoutCache
    let coldStartTimeout: Duration
    /// Only the exceptional calls are logged (waits for a ready replica, timeouts, unreachable replicas), each with
    /// its call id, so that `journalctl -u skiff CALL_ID=…` finds them; the successful path logs nothing.
    let logger: Logger

    public init(
        runtime: any FunctionRuntime, client: HTTPClient, metrics: InvocationMetrics, timeouts: TimeoutCache,
        coldStartTimeout: Duration, logger: Logger
    ) {
        self.runtime = runtime
        self.client = client
        self.metrics = metrics
        self.timeouts = timeouts
        self.coldStartTimeout = coldStartTimeout
        self.logger = logger
    }

    /// Sends `request` (its host and port are the replica's, filled in here) to a replica of `address`.
    /// `started` is when the call began for its caller: the call's duration is counted from it, less any time
    /// spent waiting for a cold start.
    public func invoke(
        _ request: HTTPClientRequest, to address: FunctionAddress, callID: String,
        started: ContinuousClock.Instant = .now
    ) async throws(InvocationError) -> FunctionAnswer {
        let qualified = address.qualified  // once: metrics and messages use it on every call
        let timeout = await timeouts.timeout(for: address)
        // A replica is chosen and counted in one step, so that one being retired is either avoided or waited for;
        // a function at zero is woken and the call waits for its first replica.
        let endpoint: ReplicaEndpoint
        var coldStart = Duration.zero
        do {
            let acquired = try await runtime.acquireEndpoint(
                name: address.name, namespace: address.namespace, waitingUpTo: coldStartTimeout)
            endpoint = acquired.endpoint
            if acquired.waited {
                coldStart = ContinuousClock.now - started
                logger.info(
                    "waited for a ready replica",
                    [
                        "function": address.name, "namespace": address.namespace,
                        "call_id": callID, "seconds": String(format: "%.3f", coldStart.seconds),
                    ])
            }
        } catch FunctionRuntimeError.notFound {
            throw .notFound(function: qualified)
        } catch {
            throw .noReplica(name: address.name)
        }
        metrics.started(qualified)

        var upstream = request
        upstream.host = endpoint.upstreamHost
        upstream.port = endpoint.port
        upstream.networkNamespace = endpoint.networkNamespace
        let response: HTTPClientResponse
        do {
            response = try await client.execute(upstream, timeout: timeout)
        } catch {
            let timedOut = (error as? HTTPClientError) == .requestTimeout
            let failure: InvocationError =
                timedOut ? .timedOut(function: qualified, after: timeout) : .unreachable(name: address.name)
            metrics.completed(
                qualified, code: failure.code, seconds: (ContinuousClock.now - started - coldStart).seconds)
            logger.warning(
                timedOut ? "function timed out" : "function unreachable",
                [
                    "function": address.name, "namespace": address.namespace, "call_id": callID,
                    "replica": endpoint.id, "address": "\(endpoint.host):\(endpoint.port)",
                    "status": String(failure.code),
                ])
            runtime.releaseEndpoint(endpoint)
            throw failure
        }
        // Counted when the head arrives: functions compute before they answer, and a streamed body's end is the
        // consumer's business.
        metrics.completed(
            qualified, code: response.status.code, seconds: (ContinuousClock.now - started - coldStart).seconds)
        return FunctionAnswer(response: response, runtime: runtime, endpoint: endpoint)
    }
}

/// A function's answer. Its replica stays counted busy (an update or scale-down waits for it) until the answer is
/// consumed: relayed to a client, which releases the replica at the end of the body, or dropped, which releases it
/// at once. Not copyable, so exactly one of them happens, and the compiler checks it.
public struct FunctionAnswer: ~Copyable, Sendable {
    public let response: HTTPClientResponse
    private let runtime: any FunctionRuntime
    private let endpoint: ReplicaEndpoint
    /// Set when the release has been handed to the relayed response, so that dropping the answer does not release.
    private var handedOver = false

    init(response: HTTPClientResponse, runtime: any FunctionRuntime, endpoint: ReplicaEndpoint) {
        self.response = response
        self.runtime = runtime
        self.endpoint = endpoint
    }

    /// The replica that answered.
    public var replica: String { endpoint.id }

    /// The answer as a response to relay: status, end-to-end headers and the body as it arrives; the replica is
    /// released once the body has been passed on (``HTTPResponseBody/forwarding(_:relayed:)`` runs that once).
    public consuming func relayed() -> HTTPResponse {
        handedOver = true
        let runtime = self.runtime
        let endpoint = self.endpoint
        return HTTPResponse(forwarding: response) { runtime.releaseEndpoint(endpoint) }
    }

    deinit {
        if !handedOver { runtime.releaseEndpoint(endpoint) }
    }
}
