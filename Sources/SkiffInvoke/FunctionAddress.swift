import SkiffAPI

/// A function as a caller names it: `NAME` or `NAME.NAMESPACE` (from a URL, a queued request, a trigger), split at
/// the last dot as OpenFaaS does.
public struct FunctionAddress: Sendable, Hashable {
    public var name: String
    public var namespace: String

    public init(_ text: Substring, defaultNamespace: String) throws(InvocationError) {
        if let dot = text.lastIndex(of: ".") {
            name = String(text[..<dot])
            namespace = String(text[text.index(after: dot)...])
        } else {
            name = String(text)
            namespace = defaultNamespace
        }
        guard ResourceName.isValid(name), ResourceName.isValid(namespace) else {
            throw .invalidName(String(text))
        }
    }

    /// For names already validated elsewhere (a deploy's, say).
    public init(uncheckedName name: String, namespace: String) {
        self.name = name
        self.namespace = namespace
    }

    /// How metrics and messages name it: `name.namespace`.
    public var qualified: String { "\(name).\(namespace)" }
}
