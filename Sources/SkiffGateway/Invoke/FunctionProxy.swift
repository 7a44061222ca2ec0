import Foundation
import SkiffHTTP
import SkiffLog
import SkiffPOSIX
import SkiffRuntime
import Synchronization

/// `/function/NAME[.NS][/path]`: every method, sub-path and raw query forwarded; bodies streamed both ways with
/// the request's Content-Length kept; hop-by-hop headers dropped; X-Forwarded-For/Host, X-Call-Id and
/// X-Start-Time added; the replica with the fewest requests in flight chosen; a function at zero scaled up
/// first. The handler runs on the connection's event loop and so does the upstream request.
struct FunctionProxy: Sendable {
    let runtime: any FunctionRuntime
    let client: HTTPClient
    let metrics: GatewayMetrics
    let timeouts: TimeoutCache
    let configuration: GatewayConfiguration
    let servedBy: String
    /// Only the exceptional calls are logged (waits for a ready replica, timeouts, unreachable replicas), each with its call id,
    /// so that `journalctl -u skiff CALL_ID=…` finds them; the successful path logs nothing.
    let logger: Logger

    func respond(to request: HTTPRequest) async throws -> HTTPResponse {
        let started = ContinuousClock.now
        let startNanoseconds = Self.unixNanoseconds()
        guard let function = request.parameters["function"] else {
            throw GatewayError(404, "404 page not found")
        }
        let address = try FunctionAddress(function, defaultNamespace: configuration.defaultNamespace)
        let qualified = address.qualified  // once: metrics and messages use it on every call
        let timeout = await timeouts.timeout(for: address)
        // Made before anything can be logged, so every line about this call carries it.
        let givenCallID = request.headers["X-Call-Id"]
        let generatedCallID = givenCallID == nil
        let callID = givenCallID ?? CallID.make()
        // A replica is chosen and counted in one step, so that one being retired is either avoided or waited for;
        // a function at zero is woken and the call waits for its first replica.
        let endpoint: ReplicaEndpoint
        var coldStart = Duration.zero
        do {
            let acquired = try await runtime.acquireEndpoint(
                name: address.name, namespace: address.namespace, waitingUpTo: configuration.coldStartTimeout)
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
            throw GatewayError(404, "error finding function \(qualified): not found", proxy: true)
        } catch {
            throw GatewayError(503, "No endpoints available for: \(address.name).", proxy: true)
        }
        // The replica is counted busy until its answer has been relayed to the end (a stream included), so that
        // an update or scale-down waits for it; released here only if no answer takes that over.
        var releasedByAnswer = false
        defer { if !releasedByAnswer { runtime.releaseEndpoint(endpoint) } }
        metrics.started(qualified)

        var upstream = HTTPClientRequest(
            forwarding: request, host: endpoint.upstreamHost, port: endpoint.port, target: upstreamTarget(request))
        upstream.networkNamespace = endpoint.networkNamespace
        upstream.headers.reserveCapacity(fields: 4, bytes: 192)  // the fields added below, in one allocation
        if generatedCallID { upstream.headers.add(name: "X-Call-Id", value: callID) }
        if let client = request.remoteAddress?.host {
            if let existing = request.headers["X-Forwarded-For"] {
                upstream.headers.replaceOrAdd(name: "X-Forwarded-For", value: "\(existing), \(client)")
            } else {
                upstream.headers.add(name: "X-Forwarded-For", value: client)
            }
        }
        if !request.headers.contains(name: "X-Forwarded-Host"), let host = request.headers["Host"] {
            upstream.headers.add(name: "X-Forwarded-Host", value: host)
        }
        upstream.headers.replaceOrAdd(name: "X-Start-Time", value: startNanoseconds)

        let answer: HTTPClientResponse
        do {
            answer = try await client.execute(upstream, timeout: timeout)
        } catch let error as HTTPClientError {
            let code = error == .requestTimeout ? 504 : 502
            metrics.completed(
                qualified, code: code, seconds: (ContinuousClock.now - started - coldStart).seconds)
            logger.warning(
                code == 504 ? "function timed out" : "function unreachable",
                [
                    "function": address.name, "namespace": address.namespace, "call_id": callID,
                    "replica": endpoint.id, "address": "\(endpoint.host):\(endpoint.port)", "status": String(code),
                ])
            if code == 504 {
                throw GatewayError(
                    504, "Function \(qualified) timed out after \(timeout.seconds)s", proxy: true, callID: callID)
            }
            throw GatewayError(502, "Can't reach service for: \(address.name).", proxy: true, callID: callID)
        }
        let runtime = self.runtime
        var response = HTTPResponse(forwarding: answer) { runtime.releaseEndpoint(endpoint) }
        releasedByAnswer = true
        response.headers.reserveCapacity(fields: 4, bytes: 128)
        if generatedCallID { response.headers.replaceOrAdd(name: "X-Call-Id", value: callID) }
        response.headers.replaceOrAdd(name: "X-Start-Time", value: startNanoseconds)
        response.headers.replaceOrAdd(name: "X-Served-By", value: servedBy)
        if !response.headers.contains(name: "Content-Type") {
            response.headers.add(name: "Content-Type", value: request.headers["Content-Type"] ?? "text/plain")
        }
        // Counted when the head arrives: functions compute before they answer, and a streamed body's end is
        // the client's business.
        metrics.completed(
            qualified, code: answer.status.code,
            seconds: (ContinuousClock.now - started - coldStart).seconds)
        return response
    }

    /// `/function/fn` and `/function/fn/` → `/`; `/function/fn/a/b/` → `/a/b/`; the raw query kept.
    private func upstreamTarget(_ request: HTTPRequest) -> String {
        var target = "/" + (request.parameters["path"].map(String.init) ?? "")
        if let query = request.query { target += "?" + query }
        return target
    }

    static func unixNanoseconds() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return String(Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec))
    }
}

/// Per-function upstream timeouts: the function's own `exec_timeout` or `write_timeout` env (the values its
/// watchdog also reads, so one setting drives every hop), else the gateway's default. Cached only for functions
/// that exist, so that callers naming unknown functions cannot grow it and a call made before a deploy cannot pin
/// the default; routes that deploy, change or remove a function forget its entry.
final class TimeoutCache: Sendable {
    private let runtime: any FunctionRuntime
    private let fallback: Duration
    private let cache = Mutex<[FunctionAddress: Duration]>([:])

    init(runtime: any FunctionRuntime, fallback: Duration) {
        self.runtime = runtime
        self.fallback = fallback
    }

    func timeout(for address: FunctionAddress) async -> Duration {
        if let cached = cache.withLock({ $0[address] }) { return cached }
        guard let status = try? await runtime.status(name: address.name, namespace: address.namespace) else {
            return fallback
        }
        let timeout = Self.timeout(envVars: status.definition.envVars, fallback: fallback)
        cache.withLock { $0[address] = timeout }
        return timeout
    }

    static func timeout(envVars: [String: String], fallback: Duration) -> Duration {
        let values = ["exec_timeout", "write_timeout"].compactMap { key in
            envVars[key].flatMap { try? GoDuration.parse($0, field: key, atMost: GoDuration.timeoutLimit) }
        }.filter { $0 > .zero }
        return values.max() ?? fallback
    }

    /// Entries held: at most one per function that exists.
    var count: Int { cache.withLock { $0.count } }

    func forget(_ address: FunctionAddress) {
        _ = cache.withLock { $0.removeValue(forKey: address) }
    }
}
