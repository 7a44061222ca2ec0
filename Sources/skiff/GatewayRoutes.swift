import SkiffHTTP

/// The daemon's routes. Only the liveness probe exists until the gateway issue lands its API here.
enum GatewayRoutes {
    static func make() throws -> HTTPRouter {
        var router = HTTPRouter()
        // A liveness probe used under load: answered from memory, never by calling out.
        try router.add(.get, "/healthz") { _ in HTTPResponse(status: .ok) }
        return router
    }
}
