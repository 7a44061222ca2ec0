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
        var headers = HTTPHeaders()
        for (name, values) in request.header.sorted(by: { $0.key < $1.key })
        where !notForwarded.contains(name.lowercased()) {
            for value in values { headers.add(name: name, value: value) }
        }
        headers.replaceOrAdd(name: "X-Call-Id", value: callID)
        var target = request.path.map { $0.isEmpty ? "/" : $0 } ?? "/"
        if !target.hasPrefix("/") { target = "/" + target }
        if let query = request.queryString, !query.isEmpty { target += "?" + query }
        // A method is a token (RFC 9110); anything else in a message a NATS client queued is taken as POST, as
        // OpenFaaS's worker always posts.
        let isToken = !request.method.isEmpty && request.method.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
        let method = isToken ? HTTPMethod(rawValue: request.method.uppercased()) : .post
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
