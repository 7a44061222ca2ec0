import Foundation
import SkiffHTTP
import SkiffInvoke

/// One call of a function as a queued request describes it, through the same ``FunctionInvoker`` as
/// `/function/NAME`: what the queue worker makes, and what a fire-and-forget trigger makes without the queue.
enum FunctionCall {
    /// What a call gave: the function's answer, or the status the gateway would have answered with.
    struct Outcome: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
        var internalFailure: Bool
    }

    /// The largest answer kept for a callback or a reply.
    static let maxAnswer = 64 << 20

    static func make(
        _ request: QueueRequest, function: FunctionAddress, callID: String, invoker: FunctionInvoker
    ) async -> Outcome {
        // A queued call is JSON any NATS client may have written: what cannot be sent as HTTP as it is (a name
        // that is not a token, a CR or LF in a value or in the target) is dropped or refused here, the one place
        // every queued or triggered call goes through, rather than written into the function's request.
        var headers = HTTPHeaders()
        for (name, values) in request.header.sorted(by: { $0.key < $1.key })
        where !notForwarded.contains(name.lowercased()) && HTTPHeaders.isToken(name) {
            for value in values where HTTPHeaders.isValidValue(value) { headers.add(name: name, value: value) }
        }
        headers.replaceOrAdd(name: "X-Call-Id", value: callID)
        var target = request.path.map { $0.isEmpty ? "/" : $0 } ?? "/"
        if !target.hasPrefix("/") { target = "/" + target }
        if let query = request.queryString, !query.isEmpty { target += "?" + query }
        guard target.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            return Outcome(
                status: 400, headers: HTTPHeaders(),
                body: Array("the queued call's path or query is not a request target (spaces or controls)".utf8),
                internalFailure: false)
        }
        // A method is a token (RFC 9110); anything else in a message a NATS client queued is taken as POST, as
        // OpenFaaS's worker always posts.
        let method = HTTPHeaders.isToken(request.method) ? HTTPMethod(rawValue: request.method.uppercased()) : .post
        let body = request.body.map { [UInt8]($0) } ?? []
        let upstream = HTTPClientRequest(
            method: method, host: "", port: 0, target: target, headers: headers, body: .bytes(body))
        do {
            let answer = try await invoker.invoke(upstream, to: function, callID: callID)
            let collected = (try? await answer.response.body.collect(upTo: maxAnswer)) ?? []
            let response = answer.response
            return Outcome(
                status: response.status.code, headers: response.headers, body: collected,
                internalFailure: response.headers.contains(name: "X-OpenFaaS-Internal"))
        } catch {
            return Outcome(
                status: error.code, headers: HTTPHeaders(), body: Array(error.message.utf8),
                internalFailure: error.code != 404)
        }
    }

    /// Headers of the original call that describe its connection or its framing, not the call.
    static let notForwarded: Set<String> = [
        "connection", "keep-alive", "transfer-encoding", "content-length", "te", "upgrade", "proxy-connection",
        "x-callback-url", "authorization",
    ]
}
