import SkiffHTTP
import SkiffInvoke
import SkiffPOSIX

/// `/function/NAME[.NS][/path]`: every method, sub-path and raw query forwarded; bodies streamed both ways with
/// the request's Content-Length kept; hop-by-hop headers dropped; X-Forwarded-For/Host, X-Call-Id and
/// X-Start-Time added; then the call goes the way every call goes, through the ``FunctionInvoker``.
struct FunctionProxy: Sendable {
    let invoker: FunctionInvoker
    let defaultNamespace: String
    let servedBy: String

    func respond(to request: HTTPRequest) async throws -> HTTPResponse {
        let started = ContinuousClock.now
        let startNanoseconds = Self.unixNanoseconds()
        guard let function = request.parameters["function"] else {
            throw GatewayError(404, "404 page not found")
        }
        let address: FunctionAddress
        do {
            address = try FunctionAddress(function, defaultNamespace: defaultNamespace)
        } catch {
            throw GatewayError(invocation: error, callID: nil)
        }
        // Made before anything can be logged, so every line about this call carries it.
        let givenCallID = request.headers["X-Call-Id"]
        let generatedCallID = givenCallID == nil
        let callID = givenCallID ?? CallID.make()

        // Host and port are the replica's, filled in by the invoker.
        var upstream = HTTPClientRequest(forwarding: request, host: "", port: 0, target: upstreamTarget(request))
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

        let answer: FunctionAnswer
        do {
            answer = try await invoker.invoke(upstream, to: address, callID: callID, started: started)
        } catch {
            throw GatewayError(invocation: error, callID: error.reachedReplica ? callID : nil)
        }
        var response = answer.relayed()
        response.headers.reserveCapacity(fields: 4, bytes: 128)
        if generatedCallID { response.headers.replaceOrAdd(name: "X-Call-Id", value: callID) }
        response.headers.replaceOrAdd(name: "X-Start-Time", value: startNanoseconds)
        response.headers.replaceOrAdd(name: "X-Served-By", value: servedBy)
        if !response.headers.contains(name: "Content-Type") {
            response.headers.add(name: "Content-Type", value: request.headers["Content-Type"] ?? "text/plain")
        }
        return response
    }

    /// `/function/fn` and `/function/fn/` → `/`; `/function/fn/a/b/` → `/a/b/`; the raw query kept.
    private func upstreamTarget(_ request: HTTPRequest) -> String {
        var target = "/" + (request.parameters["path"].map(String.init) ?? "")
        if let query = request.query { target += "?" + query }
        return target
    }

    static func unixNanoseconds() -> String {
        let now = wallClockNow()
        return String(Int64(now.seconds) * 1_000_000_000 + Int64(now.nanoseconds))
    }
}
