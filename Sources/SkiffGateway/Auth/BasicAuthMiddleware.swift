import SkiffHTTP

/// What part of the gateway a request's path names. Authentication and the restore gate both read it, from the
/// one target the parser normalised, so they cannot disagree about which requests are admin or invocation calls.
enum GatewayScope {
    /// `/system` and everything below: the admin API.
    case system
    /// `/function/…` and `/async-function/…`.
    case invocation
    /// `/api/v1/…`: the metrics store's Prometheus query API.
    case metricsQuery
    /// `/healthz`, `/metrics`, `/` and unknown paths.
    case other

    init(_ path: Substring) {
        if path.hasPrefix("/system/") || path == "/system" {
            self = .system
        } else if path.hasPrefix("/function/") || path.hasPrefix("/async-function/") {
            self = .invocation
        } else if path.hasPrefix("/api/v1/") {
            self = .metricsQuery
        } else {
            self = .other
        }
    }
}

/// Basic auth in front of the routes that need it: 401 with `WWW-Authenticate: Basic realm="Restricted"` and
/// body `invalid credentials`, as the OpenFaaS gateway answers (never the `IAM function invoke` realm, which
/// makes faas-cli look for a Pro token).
///
/// The admin's credentials end here: whatever follows (the proxy today, the async queue's worker later) never
/// sees an `Authorization` header this layer authenticated, nor one carrying the admin's password, which a
/// function could otherwise replay against `/system`. A function's own token on an open route passes through.
struct BasicAuthMiddleware: HTTPMiddleware {
    let credentials: Credentials
    let protectsInvocations: Bool
    var protectsMetricsQueries = true

    func respond(to request: HTTPRequest, next: any HTTPResponder) async throws -> HTTPResponse {
        let scope = GatewayScope(request.path)
        let protected =
            scope == .system || (protectsInvocations && scope == .invocation)
            || (protectsMetricsQueries && scope == .metricsQuery)
        guard request.headers.contains(name: "Authorization") else {
            return protected ? Self.refused : try await next.respond(to: request)
        }
        if protected {
            guard credentials.accepts(request.headers["Authorization"]) else { return Self.refused }
        } else if !request.headers.values(name: "Authorization").contains(where: credentials.accepts) {
            return try await next.respond(to: request)
        }
        var consumed = request
        consumed.head.headers.remove(name: "Authorization")
        return try await next.respond(to: consumed)
    }

    private static let refused = HTTPResponse(
        status: HTTPStatus(code: 401), headers: ["WWW-Authenticate": "Basic realm=\"Restricted\""],
        body: .string("invalid credentials"))
}
