/// Anything that answers requests: a router, a middleware chain, a closure.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest) async throws -> HTTPResponse
}

/// A responder made from a closure.
public struct HTTPHandler: HTTPResponder {
    private let body: @Sendable (HTTPRequest) async throws -> HTTPResponse
    public init(_ body: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse) { self.body = body }
    public func respond(to request: HTTPRequest) async throws -> HTTPResponse { try await body(request) }
}
