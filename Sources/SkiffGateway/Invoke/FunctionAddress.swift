import SkiffRuntime

/// `NAME` or `NAME.NAMESPACE` from a URL, split at the last dot as OpenFaaS does.
struct FunctionAddress: Sendable, Hashable {
    var name: String
    var namespace: String

    init(_ text: Substring, defaultNamespace: String) throws(GatewayError) {
        if let dot = text.lastIndex(of: ".") {
            name = String(text[..<dot])
            namespace = String(text[text.index(after: dot)...])
        } else {
            name = String(text)
            namespace = defaultNamespace
        }
        guard ResourceName.isValid(name), ResourceName.isValid(namespace) else {
            throw GatewayError(404, "error finding function \(text): not a valid function name", proxy: true)
        }
    }

    /// How metrics and messages name it: `name.namespace`.
    var qualified: String { "\(name).\(namespace)" }
}
