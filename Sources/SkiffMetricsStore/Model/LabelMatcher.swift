/// One condition of a selector on one label: `=`, `!=`, `=~`, `!~`. A missing label matches as the empty string,
/// as in Prometheus; regular expressions (RE2's syntax, matched in linear time) match the whole value.
public struct LabelMatcher: Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case equal = "="
        case notEqual = "!="
        case matchesRegex = "=~"
        case notMatchesRegex = "!~"
    }

    public let name: String
    public let kind: Kind
    public let value: String
    private let regex: RE2?

    public init(_ name: String, _ kind: Kind, _ value: String) throws(LabelMatcherError) {
        self.name = name
        self.kind = kind
        self.value = value
        switch kind {
        case .equal, .notEqual:
            regex = nil
        case .matchesRegex, .notMatchesRegex:
            do {
                regex = try RE2(anchoring: value)
            } catch {
                throw .invalidRegex(value, error.description)
            }
        }
    }

    /// `name="value"`, which cannot fail.
    public static func equal(_ name: String, _ value: String) -> LabelMatcher {
        LabelMatcher(name: name, kind: .equal, value: value)
    }

    private init(name: String, kind: Kind, value: String) {
        self.name = name
        self.kind = kind
        self.value = value
        regex = nil
    }

    public func matches(_ given: String?) -> Bool {
        let text = given ?? ""
        switch kind {
        case .equal: return text == value
        case .notEqual: return text != value
        case .matchesRegex: return regex?.matches(text) ?? false
        case .notMatchesRegex: return !(regex?.matches(text) ?? false)
        }
    }

    /// Whether the empty string matches: such a matcher also selects series without the label.
    var matchesEmpty: Bool { matches(nil) }

    public var description: String { "\(name)\(kind.rawValue)\"\(value)\"" }
}

public enum LabelMatcherError: Error, Equatable, CustomStringConvertible {
    case invalidRegex(String, String)

    public var description: String {
        switch self {
        // Prometheus says only what Go's parser says (`error parsing regexp: …`), the pattern quoted in it.
        case .invalidRegex(_, let reason): reason
        }
    }
}
