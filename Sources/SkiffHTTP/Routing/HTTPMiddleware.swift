/// Code that runs around a responder: authentication, metrics, call ids. Call `next` to continue, or answer
/// directly (e.g. 401) without calling it.
public protocol HTTPMiddleware: Sendable {
    func respond(to request: HTTPRequest, next: any HTTPResponder) async throws -> HTTPResponse
}

extension HTTPMiddleware {
    /// This middleware in front of `responder`.
    public func wrapping(_ responder: any HTTPResponder) -> any HTTPResponder {
        MiddlewareResponder(middleware: self, next: responder)
    }
}

extension Array where Element == any HTTPMiddleware {
    /// The chain in order: the first middleware sees the request first and the response last.
    public func wrapping(_ responder: any HTTPResponder) -> any HTTPResponder {
        reversed().reduce(responder) { next, middleware in middleware.wrapping(next) }
    }
}

struct MiddlewareResponder: HTTPResponder {
    let middleware: any HTTPMiddleware
    let next: any HTTPResponder

    func respond(to request: HTTPRequest) async throws -> HTTPResponse {
        try await middleware.respond(to: request, next: next)
    }
}
