/// What can go wrong in the runtime, in terms the gateway maps to HTTP statuses and people can act on.
public enum FunctionRuntimeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The request itself is wrong (400): a bad name, quantity, or a secret that does not exist.
    case invalid(String)
    /// The function, namespace or secret does not exist (404).
    case notFound(String)
    /// The image is neither in containerd nor pullable (400: the deploy names something unusable).
    case image(String)
    /// The change could not be completed in time; nothing of it is left behind (503/504 at the edge).
    case timedOut(String)
    /// containerd, runc or CNI failed; the message carries the tool's own words (500).
    case system(String)
    /// A newer change to the same function took over before this one finished (409).
    case conflict(String)

    public var description: String {
        switch self {
        case .invalid(let message), .notFound(let message), .image(let message), .timedOut(let message),
            .system(let message), .conflict(let message):
            message
        }
    }
}
