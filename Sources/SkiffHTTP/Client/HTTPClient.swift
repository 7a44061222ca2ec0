import SkiffPOSIX

/// An HTTP/1.1 client over the engine's event loops, with a keep-alive pool per loop and host:port.
///
/// A request made from a loop thread (a server handler) runs on that same loop and uses that loop's pool, so a
/// proxied request never changes threads. Bodies stream both ways with backpressure. Redirects are not followed.
public final class HTTPClient: Sendable {
    public struct Configuration: Sendable {
        public var connectTimeout: Duration = .seconds(5)
        /// Default limit for a whole exchange (until the response body ends); nil waits forever.
        public var requestTimeout: Duration? = .seconds(60)
        /// Idle keep-alive connections kept per loop and host:port.
        public var maxIdlePerHost = 64
        /// Idle pooled connections are closed after this long.
        public var idleTimeout: Duration = .seconds(30)
        public init() {}
    }

    public let configuration: Configuration
    private let group: EventLoopGroup
    private let pools: [ClientPool]

    public init(group: EventLoopGroup, configuration: Configuration = Configuration()) {
        self.group = group
        self.configuration = configuration
        pools = group.loops.map { ClientPool(loop: $0, configuration: configuration) }
    }

    /// Sends a request and returns when the response head has arrived. `timeout` overrides the configured
    /// request timeout for this exchange (head and body).
    public func execute(_ request: HTTPClientRequest, timeout: Duration? = nil) async throws -> HTTPClientResponse {
        let address = try await Self.resolve(host: request.host, port: request.port)
        let loop = group.next()
        let pool = pools[loop.index]
        let limit = timeout ?? configuration.requestTimeout
        return try await loop.onLoop { try await pool.execute(request, address: address, timeout: limit) }
    }

    /// Convenience: a request with its whole response body collected (up to `maxBytes`).
    public func fetch(
        _ request: HTTPClientRequest, timeout: Duration? = nil,
        maxBytes: Int = 64 * 1024 * 1024
    ) async throws -> (head: HTTPResponseHead, body: [UInt8]) {
        let response = try await execute(request, timeout: timeout)
        return (response.head, try await response.body.collect(upTo: maxBytes))
    }

    /// Closes every idle pooled connection.
    public func closeIdleConnections() async {
        for pool in pools { try? await pool.loop.submit { pool.closeIdle() } }
    }

    /// IP literals and `localhost` resolve without a lookup; other names go through getaddrinfo, which blocks
    /// the calling thread briefly (fine for the CLI; the gateway only dials addresses).
    static func resolve(host: String, port: Int) async throws -> SocketAddress {
        if let address = SocketAddress(host: host, port: port) { return address }
        guard let address = SocketAddress.lookUp(host: host, port: port) else {
            throw HTTPClientError.unresolvableHost(host)
        }
        return address
    }
}
