import SkiffAPI
import SkiffHTTP

/// /healthz, /metrics and /system/info.
extension Gateway {
    func addSystemRoutes(to router: inout HTTPRouter) throws {
        // 200 once functions are restored and containerd answered at start-up; 503 before. From memory, so
        // it is safe as a liveness probe under load.
        try router.add(.get, "/healthz") { [self] _ in
            isReady ? HTTPResponse(status: .ok) : GatewayError(503, "skiff is starting: restoring functions").response
        }
        // Unauthenticated and scraped often: answered from memory, never by asking containerd (a `ctr` process
        // per scrape let any caller fork processes at will).
        try router.add(.get, "/metrics") { [registry] _ in
            HTTPResponse(
                status: .ok, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"],
                body: .string(await registry.exposition()))
        }
        try router.add(.get, "/system/info") { [self] _ in
            try JSONBody.response(
                GatewayInfo(release: configuration.release, sha: configuration.sha, nats: configuration.broker))
        }
        try router.add(.get, "/") { _ in
            HTTPResponse(status: HTTPStatus(code: 307), headers: ["Location": "/ui/"])
        }
    }
}
