import Testing

@testable import SkiffHTTP

@Suite("Router")
struct HTTPRouterTests {
    static func request(_ method: HTTPMethod, _ target: String, body: HTTPBody = .empty) -> HTTPRequest {
        HTTPRequest(head: HTTPRequestHead(method: method, target: target), body: body)
    }

    static func echo(_ tag: String) -> @Sendable (HTTPRequest) async throws -> HTTPResponse {
        { request in
            var text = tag
            for name in ["name", "rest", "ns"] {
                if let value = request.parameters[name] { text += " \(name)=\(value)" }
            }
            return HTTPResponse(body: .string(text))
        }
    }

    static func text(_ response: HTTPResponse) -> String {
        if case .bytes(let bytes) = response.body.storage { return String(decoding: bytes, as: UTF8.self) }
        return "<stream>"
    }

    static func makeRouter() throws -> HTTPRouter {
        var router = HTTPRouter()
        try router.add(.get, "/healthz", handler: echo("health"))
        try router.add(.get, "/system/functions", handler: echo("list"))
        try router.add(.post, "/system/functions", handler: echo("deploy"))
        try router.add(.get, "/system/function/{name}", handler: echo("describe"))
        try router.add(.post, "/system/namespace/", handler: echo("ns-create"))
        try router.add(.get, "/system/namespace/{ns}", handler: echo("ns-get"))
        try router.add(.post, "/function/{name}/{rest...}", handler: echo("invoke"))
        try router.add(.get, "/function/{name}/{rest...}", handler: echo("invoke"))
        try router.add(
            .post, "/small", maxBodyBytes: 4,
            handler: { request in
                HTTPResponse(body: .bytes(try await request.body.collect(upTo: 1 << 20)))
            })
        return router
    }

    @Test(arguments: [
        ("GET", "/healthz", 200, "health"),
        ("GET", "/system/functions", 200, "list"),
        ("POST", "/system/functions", 200, "deploy"),
        ("GET", "/system/function/figlet?namespace=openfaas-fn", 200, "describe name=figlet"),
        ("POST", "/system/namespace/", 200, "ns-create"),
        ("GET", "/system/namespace/dev", 200, "ns-get ns=dev"),
        ("POST", "/function/echo", 200, "invoke name=echo rest="),
        ("POST", "/function/echo/", 200, "invoke name=echo rest="),
        ("GET", "/function/echo.staging/a/b/c?q=1", 200, "invoke name=echo.staging rest=a/b/c"),
        ("GET", "/nothing", 404, "404 page not found\n"),
        ("GET", "/system/function/", 404, "404 page not found\n"),
        ("GET", "/system/functions/extra", 404, "404 page not found\n"),
    ])
    func routes(method: String, target: String, status: Int, body: String) async throws {
        let response = try await Self.makeRouter().respond(to: Self.request(HTTPMethod(rawValue: method), target))
        #expect(response.status.code == status)
        #expect(Self.text(response) == body)
    }

    @Test func wrongMethodIs405WithAllow() async throws {
        let response = try await Self.makeRouter().respond(to: Self.request(.delete, "/system/functions"))
        #expect(response.status.code == 405)
        #expect(response.headers["Allow"] == "GET, HEAD, POST")
        #expect(Self.text(response).isEmpty)
    }

    @Test func headFallsBackToGet() async throws {
        let response = try await Self.makeRouter().respond(to: Self.request(.head, "/healthz"))
        #expect(response.status.code == 200)
    }

    @Test func routeBodyLimitAnswers413() async throws {
        let router = try Self.makeRouter()
        let fits = try await router.respond(to: Self.request(.post, "/small", body: .string("1234")))
        #expect(Self.text(fits) == "1234")
        await #expect(throws: HTTPBodyError.tooLarge(limit: 4)) {
            _ = try await router.respond(to: Self.request(.post, "/small", body: .string("12345")))
        }
    }

    @Test func middlewareRunsInOrderAroundEveryRequest() async throws {
        struct Tag: HTTPMiddleware {
            let name: String
            func respond(to request: HTTPRequest, next: any HTTPResponder) async throws -> HTTPResponse {
                var response = try await next.respond(to: request)
                response.headers.add(name: "X-Trace", value: name)
                return response
            }
        }
        struct Deny: HTTPMiddleware {
            func respond(to request: HTTPRequest, next: any HTTPResponder) async throws -> HTTPResponse {
                request.path.hasPrefix("/system") ? .text(.unauthorized, "no") : try await next.respond(to: request)
            }
        }
        var router = try Self.makeRouter()
        router.use(Tag(name: "outer"))
        router.use(Deny())
        router.use(Tag(name: "inner"))
        let open = try await router.respond(to: Self.request(.get, "/healthz"))
        #expect(open.headers.values(name: "X-Trace") == ["inner", "outer"])
        let denied = try await router.respond(to: Self.request(.get, "/system/functions"))
        #expect(denied.status.code == 401)
        #expect(denied.headers.values(name: "X-Trace") == ["outer"])
        let missing = try await router.respond(to: Self.request(.get, "/missing"))
        #expect(missing.status.code == 404 && missing.headers.values(name: "X-Trace") == ["inner", "outer"])
    }

    @Test func invalidPatternsAreRejected() {
        var router = HTTPRouter()
        #expect(throws: RouterError.self) { try router.add(.get, "no-slash", handler: Self.echo("x")) }
        #expect(throws: RouterError.self) { try router.add(.get, "/a/{rest...}/b", handler: Self.echo("x")) }
        #expect(throws: RouterError.self) {
            try router.add(.get, "/a", handler: Self.echo("x"))
            try router.add(.get, "/a", handler: Self.echo("y"))
        }
    }
}
