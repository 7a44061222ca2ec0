/// Matches method and path to a responder. Literal segments win over `{parameters}`, which win over `{rest...}`.
/// Unknown paths get 404 (`404 page not found`, as Go's servers answer); a known path with another method gets
/// 405 with an `Allow` header. HEAD falls back to the GET route (the server sends no body for HEAD).
public struct HTTPRouter: HTTPResponder {
    struct Route: Sendable {
        let responder: any HTTPResponder
        let maxBodyBytes: Int?
    }

    /// Routes of one node, by method.
    struct Methods: Sendable {
        var byMethod: [HTTPMethod: Route] = [:]
        var isEmpty: Bool { byMethod.isEmpty }
    }

    struct Node: Sendable {
        var literals: [Substring: Node] = [:]
        var parameter: [ParameterEdge] = []  // zero or one; an array gives the recursion its indirection
        var rest: (name: String, methods: Methods)?
        var methods = Methods()
    }

    struct ParameterEdge: Sendable {
        let name: String
        var node: Node
    }

    private var root = Node()
    private var middleware: [any HTTPMiddleware] = []
    /// The middleware wrapped around the routes, built when either changes rather than per request (wrapping
    /// allocates a box for every layer).
    private var chain: (any HTTPResponder)?

    public init() {}

    /// Adds a route. `maxBodyBytes` overrides the server's body limit for it (413 beyond).
    public mutating func add(
        _ method: HTTPMethod, _ pattern: String, maxBodyBytes: Int? = nil,
        _ responder: any HTTPResponder
    ) throws(RouterError) {
        let parsed = try RoutePattern(pattern)
        let route = Route(responder: responder, maxBodyBytes: maxBodyBytes)
        try Self.insert(route, method: method, pattern: pattern, segments: parsed.segments[...], into: &root)
        rebuildChain()
    }

    /// Adds a route answered by a closure.
    public mutating func add(
        _ method: HTTPMethod, _ pattern: String, maxBodyBytes: Int? = nil,
        handler: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse
    ) throws(RouterError) {
        try add(method, pattern, maxBodyBytes: maxBodyBytes, HTTPHandler(handler))
    }

    /// Middleware around every request, matched or not (so a 404 is counted and logged too).
    public mutating func use(_ middleware: any HTTPMiddleware) {
        self.middleware.append(middleware)
        rebuildChain()
    }

    private mutating func rebuildChain() {
        chain = middleware.isEmpty ? nil : middleware.wrapping(RouterDispatch(root: root))
    }

    private static func insert(
        _ route: Route, method: HTTPMethod, pattern: String,
        segments: ArraySlice<RoutePattern.Segment>, into node: inout Node
    ) throws(RouterError) {
        guard let first = segments.first else {
            if node.methods.byMethod[method] != nil { throw RouterError.duplicateRoute(method.rawValue, pattern) }
            node.methods.byMethod[method] = route
            return
        }
        let rest = segments.dropFirst()
        switch first {
        case .literal(let text):
            var child = node.literals[Substring(text)] ?? Node()
            try insert(route, method: method, pattern: pattern, segments: rest, into: &child)
            node.literals[Substring(text)] = child
        case .parameter(let name):
            if node.parameter.isEmpty { node.parameter = [ParameterEdge(name: name, node: Node())] }
            guard node.parameter[0].name == name else {
                throw RouterError.invalidPattern(
                    pattern, "parameter {\(name)} conflicts with {\(node.parameter[0].name)} at the same position")
            }
            try insert(route, method: method, pattern: pattern, segments: rest, into: &node.parameter[0].node)
        case .rest(let name):
            var methods = node.rest?.methods ?? Methods()
            if let existing = node.rest?.name, existing != name {
                throw RouterError.invalidPattern(
                    pattern, "{\(name)...} conflicts with {\(existing)...} at the same position")
            }
            if methods.byMethod[method] != nil { throw RouterError.duplicateRoute(method.rawValue, pattern) }
            methods.byMethod[method] = route
            node.rest = (name, methods)
        }
    }

    // MARK: Answering

    public func respond(to request: HTTPRequest) async throws -> HTTPResponse {
        if let chain { return try await chain.respond(to: request) }
        return try await Self.dispatch(request, root: root)
    }

    private struct RouterDispatch: HTTPResponder {
        let root: Node
        func respond(to request: HTTPRequest) async throws -> HTTPResponse {
            try await HTTPRouter.dispatch(request, root: root)
        }
    }

    private static let notFound: HTTPResponse = .text(.notFound, "404 page not found")

    static func dispatch(_ request: HTTPRequest, root: Node) async throws -> HTTPResponse {
        var request = request
        let path = request.head.path
        // The parser admits only `/…` and, for OPTIONS, `*` (the server as a whole), which no route names.
        guard path.utf8.first == 0x2F else { return Self.notFound }
        var parameters = HTTPParameters(capacity: 4)
        guard let methods = Self.match(path.utf8.dropFirst(), in: root, parameters: &parameters) else {
            return Self.notFound
        }
        guard
            let route = methods.byMethod[request.method]
                ?? (request.method == .head ? methods.byMethod[.get] : nil)
        else {
            var allowed = methods.byMethod.keys.map(\.rawValue)
            if methods.byMethod[.get] != nil && methods.byMethod[.head] == nil { allowed.append("HEAD") }
            var headers = HTTPHeaders()
            headers.add(name: "Allow", value: allowed.sorted().joined(separator: ", "))
            return HTTPResponse(status: .methodNotAllowed, headers: headers)
        }
        request.parameters = parameters
        if let limit = route.maxBodyBytes { request.body = request.body.limited(to: limit) }
        if request.body.isDeclaredTooLarge { throw HTTPBodyError.tooLarge(limit: request.body.limit) }
        return try await route.responder.respond(to: request)
    }

    /// Walks the trie over the remaining path (after a leading `/`), with backtracking from literals to
    /// parameters to rest captures.
    private static func match(
        _ remaining: Substring.UTF8View.SubSequence, in node: Node,
        parameters: inout HTTPParameters
    ) -> Methods? {
        let slash = remaining.firstIndex(of: 0x2F)
        let segmentEnd = slash ?? remaining.endIndex
        let segment = Substring(remaining[remaining.startIndex..<segmentEnd])
        let next = slash.map { remaining[remaining.index(after: $0)...] }

        if let child = node.literals[segment] {
            if let next {
                if let found = match(next, in: child, parameters: &parameters) { return found }
            } else if !child.methods.isEmpty {
                return child.methods
            } else if let rest = child.rest {
                parameters.append(rest.name, "")
                return rest.methods
            }
        }
        if let edge = node.parameter.first, !segment.isEmpty {
            let saved = parameters
            parameters.append(edge.name, segment)
            if let next {
                if let found = match(next, in: edge.node, parameters: &parameters) { return found }
            } else if !edge.node.methods.isEmpty {
                return edge.node.methods
            } else if let rest = edge.node.rest {
                parameters.append(rest.name, "")
                return rest.methods
            }
            parameters = saved
        }
        if let rest = node.rest {
            parameters.append(rest.name, Substring(remaining))
            return rest.methods
        }
        return nil
    }
}
