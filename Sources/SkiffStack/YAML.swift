/// A YAML value as Skiff's stack and template files use it. Scalars stay text; the reader of a field decides
/// whether it is a number, a Boolean or a string, as faas-cli's typed structs do.
public indirect enum YAMLValue: Sendable, Equatable {
    case scalar(String)
    /// Keys in file order; duplicates are rejected by the parser.
    case mapping([(key: String, value: YAMLValue)])
    case sequence([YAMLValue])
    case null

    public static func == (lhs: YAMLValue, rhs: YAMLValue) -> Bool {
        switch (lhs, rhs) {
        case (.scalar(let a), .scalar(let b)): return a == b
        case (.sequence(let a), .sequence(let b)): return a == b
        case (.null, .null): return true
        case (.mapping(let a), .mapping(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    public subscript(key: String) -> YAMLValue? {
        guard case .mapping(let pairs) = self else { return nil }
        return pairs.first { $0.key == key }?.value
    }
}

/// Where the YAML subset was left: the message names the line and column (both from 1) and what to write instead.
public struct YAMLError: Error, Equatable, CustomStringConvertible {
    public let line: Int
    public let column: Int
    public let message: String
    public var description: String { "line \(line), column \(column): \(message)" }
}
