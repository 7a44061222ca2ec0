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

/// The refusals every `FunctionRuntime` makes, worded once: the gateway answers with these words, and the first
/// part of each is what OpenFaaS says, so scripts that match faas-cli's output keep working.
extension FunctionRuntimeError {
    public static func namespaceNotValid(_ namespace: String) -> Self {
        .invalid(
            "namespace not valid: \(namespace) is not a function namespace; create it with label openfaas=1 "
                + "(`faas-cli namespace create \(namespace)`, or `ctr namespaces create \(namespace) openfaas=1`)")
    }

    public static func functionExists(_ name: String, namespace: String) -> Self {
        .conflict("function \(name).\(namespace) already exists; update it instead")
    }

    public static func functionNotFound(_ name: String, namespace: String) -> Self {
        .notFound("function: \(name).\(namespace) not found")
    }

    public static func secretMissing(_ name: String, namespace: String) -> Self {
        .invalid("unable to find secret: \(name) (create it in namespace \(namespace) first)")
    }

    public static func secretExists(_ name: String, namespace: String) -> Self {
        .conflict("secret \(name) already exists in namespace \(namespace)")
    }

    public static func secretNotFound(_ name: String, namespace: String) -> Self {
        .notFound("secret \(name) not found in namespace \(namespace)")
    }

    public static func secretInUse(_ name: String, namespace: String, by functions: [String]) -> Self {
        .conflict(
            "secret \(name) is used by \(functions.joined(separator: ", ")) in namespace \(namespace); "
                + "remove it from them (or remove them) first")
    }
}
