/// A parsed PromQL expression. Printed (`description`) in Prometheus's canonical form, which parses back to the
/// same expression.
public indirect enum PromQLExpression: Sendable, Equatable, CustomStringConvertible {
    case number(Double)
    case string(String)
    case vector(VectorSelector)
    /// A range of a vector selector: `x[5m]` (milliseconds).
    case matrix(VectorSelector, range: Int64)
    /// `expr[range:step]`, the step 0 when left to the evaluation's default.
    case subquery(PromQLExpression, range: Int64, step: Int64, modifiers: TimeModifiers)
    case call(String, [PromQLExpression])
    case aggregate(Aggregation)
    case binary(Binary)
    case negate(PromQLExpression)
    case parenthesised(PromQLExpression)

    /// Structural equality, with NaN literals equal to each other (`NaN` parses to a NaN every time).
    public static func == (a: PromQLExpression, b: PromQLExpression) -> Bool {
        switch (a, b) {
        case (.number(let x), .number(let y)): return x == y || (x.isNaN && y.isNaN)
        case (.string(let x), .string(let y)): return x == y
        case (.vector(let x), .vector(let y)): return x == y
        case (.matrix(let x, let r), .matrix(let y, let s)): return x == y && r == s
        case (.subquery(let x, let r, let t, let m), .subquery(let y, let s, let u, let n)):
            return x == y && r == s && t == u && m == n
        case (.call(let f, let x), .call(let g, let y)): return f == g && x == y
        case (.aggregate(let x), .aggregate(let y)): return x == y
        case (.binary(let x), .binary(let y)): return x == y
        case (.negate(let x), .negate(let y)), (.parenthesised(let x), .parenthesised(let y)): return x == y
        default: return false
        }
    }

    public enum ValueType: String, Sendable {
        case scalar, vector, matrix, string
    }

    /// What the expression evaluates to.
    public var type: ValueType {
        switch self {
        case .number: .scalar
        case .string: .string
        case .vector, .aggregate: .vector
        case .matrix, .subquery: .matrix
        case .call(let name, _): PromQLFunctions.all[name]?.returns ?? .vector
        case .binary(let binary): binary.lhs.type == .scalar && binary.rhs.type == .scalar ? .scalar : .vector
        case .negate(let inner), .parenthesised(let inner): inner.type
        }
    }

    public var description: String {
        switch self {
        case .number(let value): Self.format(value)
        case .string(let text): Self.quote(text)
        case .vector(let selector): selector.description
        case .matrix(let selector, let range):
            "\(selector.nameAndMatchers)[\(Self.duration(range))]\(selector.modifiers)"
        case .subquery(let inner, let range, let step, let modifiers):
            "\(inner)[\(Self.duration(range)):\(step > 0 ? Self.duration(step) : "")]\(modifiers)"
        case .call(let name, let arguments): "\(name)(\(arguments.map(\.description).joined(separator: ", ")))"
        case .aggregate(let aggregation): aggregation.description
        case .binary(let binary): binary.description
        case .negate(let inner): "-\(inner)"
        case .parenthesised(let inner): "(\(inner))"
        }
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for character in text.unicodeScalars {
            switch character {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default: out.unicodeScalars.append(character)
            }
        }
        return out + "\""
    }

    /// `1h30m`, as Prometheus prints durations (largest units first).
    static func duration(_ milliseconds: Int64) -> String {
        guard milliseconds != 0 else { return "0s" }
        var rest = milliseconds
        var out = rest < 0 ? "-" : ""
        rest = abs(rest)
        for (unit, size) in [
            ("y", Int64(365 * 86_400_000)), ("w", 7 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000),
            ("m", 60_000), ("s", 1_000), ("ms", 1),
        ] where rest >= size {
            out += "\(rest / size)\(unit)"
            rest %= size
        }
        return out
    }
}

/// `offset` and `@`, on a selector or a subquery.
public struct TimeModifiers: Sendable, Equatable, CustomStringConvertible {
    public enum At: Sendable, Equatable {
        /// Milliseconds.
        case time(Int64)
        case start
        case end
    }

    /// Milliseconds into the past (negative: into the future).
    public var offset: Int64 = 0
    public var at: At?

    public var description: String {
        var out = ""
        switch at {
        case .time(let milliseconds): out += " @ \(PromQLExpression.format(Double(milliseconds) / 1_000))"
        case .start: out += " @ start()"
        case .end: out += " @ end()"
        case nil: break
        }
        if offset != 0 { out += " offset \(PromQLExpression.duration(offset))" }
        return out
    }
}

public struct VectorSelector: Sendable, Equatable, CustomStringConvertible {
    public var name: String?
    public var matchers: [LabelMatcher]
    public var modifiers = TimeModifiers()

    var nameAndMatchers: String {
        let shown = matchers.filter { !($0.name == Labels.metricName && $0.kind == .equal && $0.value == name) }
        let braces = shown.isEmpty && name != nil ? "" : "{" + shown.map(\.description).joined(separator: ",") + "}"
        return (name ?? "") + braces
    }

    public var description: String { nameAndMatchers + modifiers.description }
}

public struct Aggregation: Sendable, Equatable, CustomStringConvertible {
    public var op: String
    public var expression: PromQLExpression
    /// `topk`'s k, `quantile`'s φ, `count_values`'s label.
    public var parameter: PromQLExpression?
    public var grouping: [String]
    public var without: Bool

    public var description: String {
        var out = op
        if without || !grouping.isEmpty {
            out += " \(without ? "without" : "by") (\(grouping.joined(separator: ", "))) "
        }
        out += "(" + (parameter.map { "\($0), " } ?? "") + expression.description + ")"
        return out
    }
}

public struct Binary: Sendable, Equatable, CustomStringConvertible {
    public enum Cardinality: Sendable, Equatable {
        case oneToOne, manyToOne, oneToMany, manyToMany
    }

    public var op: String
    public var lhs: PromQLExpression
    public var rhs: PromQLExpression
    /// `bool` on a comparison.
    public var returnsBool = false
    /// `on(…)` when true, `ignoring(…)` when false (with no labels: the default matching).
    public var on = false
    public var matching: [String] = []
    public var cardinality = Cardinality.oneToOne
    /// `group_left(…)`/`group_right(…)`'s labels.
    public var include: [String] = []

    public var isComparison: Bool { ["==", "!=", "<", ">", "<=", ">="].contains(op) }
    public var isSetOperator: Bool { ["and", "or", "unless"].contains(op) }

    public var description: String {
        var modifiers = returnsBool ? " bool" : ""
        if on || !matching.isEmpty { modifiers += " \(on ? "on" : "ignoring") (\(matching.joined(separator: ", ")))" }
        switch cardinality {
        case .manyToOne: modifiers += " group_left (\(include.joined(separator: ", ")))"
        case .oneToMany: modifiers += " group_right (\(include.joined(separator: ", ")))"
        case .oneToOne, .manyToMany: break
        }
        return "\(lhs) \(op)\(modifiers) \(rhs)"
    }
}

extension LabelMatcher: Equatable {
    public static func == (a: LabelMatcher, b: LabelMatcher) -> Bool {
        a.name == b.name && a.kind == b.kind && a.value == b.value
    }
}
