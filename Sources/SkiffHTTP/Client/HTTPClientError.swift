/// Why a client request failed. Each case is distinct so a gateway can map it (refused → 503, timeout → 504,
/// reset or cut off → 502).
public enum HTTPClientError: Error, Equatable, CustomStringConvertible {
    /// Nothing listens at the address (ECONNREFUSED).
    case connectionRefused(address: String)
    /// The TCP connection was not established in time.
    case connectTimeout(address: String)
    /// The peer reset the connection (ECONNRESET, EPIPE).
    case connectionReset
    /// The peer closed the connection before a complete response arrived.
    case remoteClosed
    /// The response did not complete within the request's timeout.
    case requestTimeout
    /// The peer's bytes are not a valid HTTP/1.x response.
    case invalidResponse(String)
    /// The URL is not `http://HOST[:PORT]/PATH`.
    case invalidURL(String)
    /// The host name could not be resolved to an address.
    case unresolvableHost(String)
    /// The network namespace to connect from does not exist (its file is gone): nothing can listen there.
    case noSuchNetworkNamespace(String)
    /// Another system call failed, on this side (no descriptors left, no memory, ...): says nothing about the peer.
    case system(String)

    public var description: String {
        switch self {
        case .connectionRefused(let address): return "connection refused by \(address): is the server running?"
        case .connectTimeout(let address): return "timed out connecting to \(address)"
        case .connectionReset: return "the connection was reset by the peer"
        case .remoteClosed: return "the server closed the connection before the response was complete"
        case .requestTimeout: return "the request timed out"
        case .invalidResponse(let why): return "invalid HTTP response: \(why)"
        case .invalidURL(let url): return "invalid URL '\(url)': expected http://HOST[:PORT]/PATH"
        case .unresolvableHost(let host): return "cannot resolve host '\(host)'"
        case .noSuchNetworkNamespace(let path): return "no network namespace at \(path): was its replica removed?"
        case .system(let what): return what
        }
    }
}
