/// How a message's body is framed on the wire.
public enum HTTPBodyFraming: Sendable, Equatable {
    /// No body at all.
    case none
    /// Exactly this many bytes (Content-Length).
    case length(Int)
    /// Chunked transfer coding.
    case chunked
    /// Until the peer closes (responses only: no length and not chunked).
    case untilClose
}

/// The request line and header fields of a request.
public struct HTTPRequestHead: Sendable, Equatable {
    public var method: HTTPMethod
    /// The request target exactly as sent: path and optional `?query`.
    public var target: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    /// Whether the connection stays open after this exchange, from the version and `Connection`.
    public var keepAlive: Bool
    /// `Expect: 100-continue` was sent: the client waits for a 100 before sending the body.
    public var expectsContinue: Bool
    public var framing: HTTPBodyFraming

    public init(
        method: HTTPMethod, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = HTTPHeaders(),
        keepAlive: Bool = true, expectsContinue: Bool = false, framing: HTTPBodyFraming = .none
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.keepAlive = keepAlive
        self.expectsContinue = expectsContinue
        self.framing = framing
    }

    /// The target up to `?`, not percent-decoded.
    public var path: Substring {
        if let q = target.utf8.firstIndex(of: 0x3F) { return target[..<q] }
        return target[...]
    }

    /// The raw query after `?`, or nil.
    public var query: Substring? {
        guard let q = target.utf8.firstIndex(of: 0x3F) else { return nil }
        return target[target.utf8.index(after: q)...]
    }

    /// The declared body length, when the client sent Content-Length.
    public var contentLength: Int? {
        if case .length(let n) = framing { return n }
        if case .none = framing { return headers.contains(name: "content-length") ? 0 : nil }
        return nil
    }
}

/// The status line and header fields of a response.
public struct HTTPResponseHead: Sendable, Equatable {
    public var version: HTTPVersion
    public var status: HTTPStatus
    public var headers: HTTPHeaders
    public var keepAlive: Bool
    public var framing: HTTPBodyFraming

    public init(
        version: HTTPVersion = .http1_1, status: HTTPStatus, headers: HTTPHeaders = HTTPHeaders(),
        keepAlive: Bool = true, framing: HTTPBodyFraming = .none
    ) {
        self.version = version
        self.status = status
        self.headers = headers
        self.keepAlive = keepAlive
        self.framing = framing
    }
}
