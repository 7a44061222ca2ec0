/// A request to send with ``HTTPClient``.
public struct HTTPClientRequest: Sendable {
    public var method: HTTPMethod
    public var host: String
    public var port: Int
    /// Path and query, e.g. `/function/echo?x=1`.
    public var target: String
    public var headers: HTTPHeaders
    /// Sent with Content-Length when its length is known (fixed bytes, or a stream with a declared length),
    /// otherwise chunked.
    public var body: HTTPBody
    /// Connect from inside this network namespace (a file such as `/run/netns/NAME`) rather than the daemon's
    /// own, so that `127.0.0.1` is that namespace's loopback. Connections are pooled per namespace. Needs
    /// CAP_SYS_ADMIN.
    public var networkNamespace: String?

    public init(
        method: HTTPMethod = .get, host: String, port: Int, target: String = "/",
        headers: HTTPHeaders = HTTPHeaders(), body: HTTPBody = .empty
    ) {
        self.method = method
        self.host = host
        self.port = port
        self.target = target
        self.headers = headers
        self.body = body
    }

    /// Parses `http://HOST[:PORT][/PATH[?QUERY]]` (IPv6 hosts in brackets). HTTPS is not spoken.
    public init(method: HTTPMethod = .get, url: String, headers: HTTPHeaders = HTTPHeaders(), body: HTTPBody = .empty)
        throws
    {
        guard url.hasPrefix("http://") else { throw HTTPClientError.invalidURL(url) }
        let rest = url.dropFirst(7)
        let slash = rest.firstIndex(of: "/") ?? rest.firstIndex(of: "?") ?? rest.endIndex
        let authority = rest[..<slash]
        var target = String(rest[slash...])
        if target.isEmpty { target = "/" } else if target.hasPrefix("?") { target = "/" + target }
        var host = String(authority)
        var port = 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw HTTPClientError.invalidURL(url) }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()) else { throw HTTPClientError.invalidURL(url) }
                port = p
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]) else {
                throw HTTPClientError.invalidURL(url)
            }
            port = p
        }
        guard !host.isEmpty, (1...65535).contains(port) else { throw HTTPClientError.invalidURL(url) }
        self.init(method: method, host: host, port: port, target: target, headers: headers, body: body)
    }
}

/// A response: the head as soon as it arrives, the body as a stream read on demand.
/// Read the body to its end (or drop the response) so the connection can return to the pool.
public struct HTTPClientResponse: Sendable {
    public var head: HTTPResponseHead
    public var body: HTTPBody
    public var status: HTTPStatus { head.status }
    public var headers: HTTPHeaders { head.headers }
}
