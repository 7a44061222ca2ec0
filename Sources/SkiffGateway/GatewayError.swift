import Foundation
import SkiffHTTP
import SkiffInvoke

/// A gateway answer that is not a success: a status and a plain-text message, as Go's http.Error writes them
/// (`text/plain; charset=utf-8`, `X-Content-Type-Options: nosniff`, message and a newline).
struct GatewayError: HTTPResponseError, Sendable {
    var status: HTTPStatus
    var message: String
    /// Marks errors raised by the proxy itself (not the function's own answer), as faasd's provider does.
    var isProxyError = false
    /// The invocation's call id, returned with the proxy's own errors so a caller can find the log line.
    var callID: String?

    init(_ code: Int, _ message: String, proxy: Bool = false, callID: String? = nil) {
        status = HTTPStatus(code: code)
        self.message = message
        isProxyError = proxy
        self.callID = callID
    }

    /// The proxy's own answer for a call that did not reach a function or got nothing back from it.
    init(invocation error: InvocationError, callID: String?) {
        self.init(error.code, error.message, proxy: true, callID: callID)
    }

    var response: HTTPResponse {
        var headers: HTTPHeaders = [
            "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff",
        ]
        if isProxyError { headers.add(name: "X-OpenFaaS-Internal", value: "proxy") }
        if let callID { headers.add(name: "X-Call-Id", value: callID) }
        return HTTPResponse(status: status, headers: headers, body: .string(message.isEmpty ? "" : message + "\n"))
    }

    /// With `Retry-After`: for answers that say "not yet" rather than "no".
    func response(retryAfter seconds: Int) -> HTTPResponse {
        var answer = response
        answer.headers.add(name: "Retry-After", value: String(seconds))
        return answer
    }

}

/// JSON in and out of handlers.
enum JSONBody {
    /// Decodes a request body of at most `limit` bytes; a parse error is 400 with what was wrong.
    static func decode<T: Decodable>(_ type: T.Type, from request: HTTPRequest, limit: Int = 1 << 20) async throws -> T
    {
        let bytes = try await request.body.collect(upTo: limit)
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch let error as DecodingError {
            throw GatewayError(400, "invalid JSON body: \(describe(error))")
        } catch {
            throw GatewayError(400, "invalid JSON body: \(error)")
        }
    }

    static func response<T: Encodable>(_ value: T, status: HTTPStatus = .ok) throws -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return HTTPResponse(
            status: status, headers: ["Content-Type": "application/json"],
            body: .bytes(Array(try encoder.encode(value))))
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "wrong type at '\(path)': \(context.debugDescription)"
        case .dataCorrupted(let context): return context.debugDescription
        @unknown default: return "\(error)"
        }
    }
}
