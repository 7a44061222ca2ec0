import Synchronization

/// A response a handler returns. The body is bytes, or a closure that writes a stream.
public struct HTTPResponse: Sendable {
    public var status: HTTPStatus
    public var headers: HTTPHeaders
    public var body: HTTPResponseBody

    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = HTTPHeaders(), body: HTTPResponseBody = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A plain-text response, the way Go's `http.Error` writes one (the OpenFaaS error shape).
    public static func text(_ status: HTTPStatus, _ message: String) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        return HTTPResponse(
            status: status, headers: headers, body: .string(message.hasSuffix("\n") ? message : message + "\n"))
    }
}

/// A response body.
public struct HTTPResponseBody: Sendable {
    enum Storage: Sendable {
        case bytes([UInt8])
        case stream(length: Int?, @Sendable (HTTPBodyWriter) async throws -> Void)
    }

    let storage: Storage

    /// The body's length when it is known before it is sent (fixed bytes, or a stream that declared it).
    public var knownLength: Int? {
        switch storage {
        case .bytes(let bytes): return bytes.count
        case .stream(let length, _): return length
        }
    }

    public static let empty = HTTPResponseBody(storage: .bytes([]))

    public static func bytes(_ bytes: [UInt8]) -> HTTPResponseBody { HTTPResponseBody(storage: .bytes(bytes)) }

    public static func string(_ text: String) -> HTTPResponseBody {
        HTTPResponseBody(storage: .bytes(Array(text.utf8)))
    }

    /// Relays an incoming body (a proxied response): fixed bytes as they are, a stream chunk by chunk with its
    /// declared length kept. `relayed` runs exactly once, when the body has been passed on or failed: at once for
    /// fixed bytes, after the last chunk (or the error) for a stream, or when the response is dropped unsent.
    public static func forwarding(_ body: HTTPBody, relayed: (@Sendable () -> Void)? = nil) -> HTTPResponseBody {
        if case .bytes(let bytes) = body.storage {
            relayed?()
            return .bytes(bytes)
        }
        let done = relayed.map(RunOnce.init)
        return .stream(length: body.declaredLength) { writer in
            defer { done?.run() }
            for try await chunk in body { try await writer.write(chunk) }
        }
    }

    /// A body written as it is produced. With a `length` the response carries Content-Length and the writer
    /// must write exactly that many bytes; without one it is sent chunked (HTTP/1.1) or until close (HTTP/1.0).
    /// Each `write` is sent at the end of the loop tick at the latest, so NDJSON lines and events arrive as written.
    public static func stream(length: Int? = nil, _ write: @escaping @Sendable (HTTPBodyWriter) async throws -> Void)
        -> HTTPResponseBody
    {
        HTTPResponseBody(storage: .stream(length: length, write))
    }
}

/// Errors that know the HTTP answer they stand for, whole: status, headers and body. Handlers throw them (or
/// domain errors that conform), and the server answers with ``response``; anything else thrown is a 500.
public protocol HTTPResponseError: Error {
    /// The answer; its body says what happened and what to do.
    var response: HTTPResponse { get }
}

extension HTTPParseError: HTTPResponseError {
    public var response: HTTPResponse { .text(status, reason) }
}

/// Turns any thrown error into the response the client gets.
enum ErrorResponse {
    static func make(for error: any Error) -> HTTPResponse {
        if let error = error as? any HTTPResponseError { return error.response }
        return .text(.internalServerError, "internal error: \(error)")
    }
}

/// An action that runs once: when asked, or when the last reference goes (a streamed body the server never
/// started, e.g. for a client that left first), so that what it releases is never left held.
final class RunOnce: Sendable {
    private let action: Mutex<(@Sendable () -> Void)?>

    init(_ action: @escaping @Sendable () -> Void) { self.action = Mutex(action) }

    func run() {
        action.withLock { taken in
            defer { taken = nil }
            return taken
        }?()
    }

    deinit { run() }
}
