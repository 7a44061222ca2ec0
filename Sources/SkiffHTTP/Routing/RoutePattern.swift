/// A parsed route pattern: `/system/function/{name}`, `/function/{name}/{rest...}`.
/// A trailing `/` is significant; `{rest...}` must come last and matches zero or more remaining segments.
struct RoutePattern: Sendable, Equatable {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
        case rest(String)
    }

    let segments: [Segment]

    init(_ pattern: String) throws(RouterError) {
        guard pattern.hasPrefix("/") else { throw RouterError.invalidPattern(pattern, "a pattern must start with '/'") }
        var segments: [Segment] = []
        let parts = pattern.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for (index, part) in parts.enumerated() {
            if part.hasPrefix("{") && part.hasSuffix("...}") {
                guard index == parts.count - 1 else {
                    throw RouterError.invalidPattern(pattern, "a {rest...} capture must be the last segment")
                }
                segments.append(.rest(String(part.dropFirst().dropLast(4))))
            } else if part.hasPrefix("{") && part.hasSuffix("}") {
                segments.append(.parameter(String(part.dropFirst().dropLast())))
            } else {
                segments.append(.literal(String(part)))
            }
        }
        self.segments = segments
    }
}

/// A route table mistake, found when the router is built.
public enum RouterError: Error, CustomStringConvertible {
    case invalidPattern(String, String)
    case duplicateRoute(String, String)

    public var description: String {
        switch self {
        case .invalidPattern(let pattern, let why): return "route pattern '\(pattern)' is invalid: \(why)"
        case .duplicateRoute(let method, let pattern): return "route \(method) \(pattern) is registered twice"
        }
    }
}
