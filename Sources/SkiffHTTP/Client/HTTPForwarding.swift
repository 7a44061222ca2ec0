extension HTTPClientRequest {
    /// A request received by a server, forwarded to `host:port`: same method, target (or `target`) and body,
    /// streamed with its Content-Length kept when the client sent one; hop-by-hop headers dropped.
    public init(forwarding request: HTTPRequest, host: String, port: Int, target: String? = nil) {
        self.init(
            method: request.method, host: host, port: port, target: target ?? request.head.target,
            headers: request.headers.removingHopByHop(), body: request.body)
    }
}

extension HTTPResponse {
    /// An upstream response relayed to the client: status, end-to-end headers, and the body as it arrives.
    /// `relayed` runs once the body has been passed on (see ``HTTPResponseBody/forwarding(_:relayed:)``).
    public init(forwarding response: HTTPClientResponse, relayed: (@Sendable () -> Void)? = nil) {
        self.init(
            status: response.status, headers: response.headers.removingHopByHop(),
            body: .forwarding(response.body, relayed: relayed))
    }
}
