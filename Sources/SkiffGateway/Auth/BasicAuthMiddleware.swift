import SkiffHTTP

/// Basic auth in front of the routes that need it: 401 with `WWW-Authenticate: Basic realm="Restricted"` and
/// body `invalid credentials`, as the OpenFaaS gateway answers (never the `IAM function invoke` realm, which
/// makes faas-cli look for a Pro token).
struct BasicAuthMiddleware: HTTPMiddleware {
    let credentials: Credentials
    let protectsInvocations: Bool

    func respond(to request: HTTPRequest, next: any HTTPResponder) async throws -> HTTPResponse {
        let path = request.path
        let needsAuth =
            path.hasPrefix("/system/") || path == "/system"
            || (protectsInvocations && (path.hasPrefix("/function/") || path.hasPrefix("/async-function/")))
        guard needsAuth, !credentials.accepts(request.headers["Authorization"]) else {
            return try await next.respond(to: request)
        }
        return HTTPResponse(
            status: HTTPStatus(code: 401),
            headers: ["WWW-Authenticate": "Basic realm=\"Restricted\""], body: .string("invalid credentials"))
    }
}
