import Foundation

/// Binary operators: scalar with scalar, vector with scalar, and vector with vector by label matching, as in
/// Prometheus 2.42 (arithmetic drops the metric name, comparisons filter unless `bool`, set operators match
/// many to many).
extension Evaluation {
    func evaluateBinary(_ binary: Binary, at time: Int64) throws(PromQLEvaluationError) -> PromQLValue {
        let lhs = try evaluate(binary.lhs, at: time)
        let rhs = try evaluate(binary.rhs, at: time)
        switch (lhs, rhs) {
        case (.scalar(let a), .scalar(let b)):
            let (value, keep) = Self.apply(binary.op, a, b)
            return .scalar(binary.isComparison ? (keep ? 1 : 0) : value)
        case (.vector(let elements), .scalar(let b)):
            return .vector(vectorScalar(binary, elements, b, scalarOnLeft: false))
        case (.scalar(let a), .vector(let elements)):
            return .vector(vectorScalar(binary, elements, a, scalarOnLeft: true))
        case (.vector(let a), .vector(let b)):
            if binary.isSetOperator { return .vector(setOperation(binary, a, b)) }
            return .vector(try vectorVector(binary, a, b))
        default:
            throw PromQLEvaluationError("binary expression must contain only scalar and instant vector types")
        }
    }

    /// The operation's value, and for a comparison whether it holds (the value is then the left side's).
    static func apply(_ op: String, _ a: Double, _ b: Double) -> (Double, Bool) {
        switch op {
        case "+": return (a + b, true)
        case "-": return (a - b, true)
        case "*": return (a * b, true)
        case "/": return (a / b, true)
        case "%": return (fmod(a, b), true)
        case "^": return (pow(a, b), true)
        case "atan2": return (atan2(a, b), true)
        case "==": return (a, a == b)
        case "!=": return (a, a != b)
        case ">": return (a, a > b)
        case "<": return (a, a < b)
        case ">=": return (a, a >= b)
        case "<=": return (a, a <= b)
        default: return (.nan, false)
        }
    }

    /// Arithmetic drops the metric name; comparisons and (in 2.42) `atan2` keep it.
    static func dropsName(_ op: String) -> Bool { ["+", "-", "*", "/", "%", "^"].contains(op) }

    func vectorScalar(_ binary: Binary, _ elements: [VectorElement], _ scalar: Double, scalarOnLeft: Bool)
        -> [VectorElement]
    {
        elements.compactMap { element in
            let (left, right) = scalarOnLeft ? (scalar, element.value) : (element.value, scalar)
            var (value, keep) = Self.apply(binary.op, left, right)
            // A comparison keeps the vector's value, whichever side it is on.
            if binary.isComparison && scalarOnLeft { value = right }
            if binary.returnsBool {
                value = keep ? 1 : 0
            } else if !keep {
                return nil
            }
            let dropName = Self.dropsName(binary.op) || binary.returnsBool
            return VectorElement(labels: dropName ? element.labels.droppingName : element.labels, value: value)
        }
    }

    /// The labels two elements are matched on.
    func signature(_ labels: Labels, _ binary: Binary) -> Labels {
        if binary.on { return labels.grouping(binary.matching, without: false) }
        return labels.grouping(binary.matching, without: true)
    }

    func setOperation(_ binary: Binary, _ lhs: [VectorElement], _ rhs: [VectorElement]) -> [VectorElement] {
        let right = Set(rhs.map { signature($0.labels, binary) })
        switch binary.op {
        case "and": return lhs.filter { right.contains(signature($0.labels, binary)) }
        case "unless": return lhs.filter { !right.contains(signature($0.labels, binary)) }
        default:
            let left = Set(lhs.map { signature($0.labels, binary) })
            return lhs + rhs.filter { !left.contains(signature($0.labels, binary)) }
        }
    }

    func vectorVector(_ binary: Binary, _ lhsGiven: [VectorElement], _ rhsGiven: [VectorElement])
        throws(PromQLEvaluationError) -> [VectorElement]
    {
        // One-to-many is many-to-one with the sides swapped (and swapped back for the values).
        let swapped = binary.cardinality == .oneToMany
        let (lhs, rhs) = swapped ? (rhsGiven, lhsGiven) : (lhsGiven, rhsGiven)
        var bySignature: [Labels: VectorElement] = [:]
        for element in rhs {
            let key = signature(element.labels, binary)
            if let other = bySignature[key] {
                throw PromQLEvaluationError(
                    "found duplicate series for the match group \(key) on the \(swapped ? "left" : "right") hand-side "
                        + "of the operation: [\(other.labels), \(element.labels)];many-to-many matching not allowed: "
                        + "matching labels must be unique on one side")
            }
            bySignature[key] = element
        }
        var matched: Set<Labels> = []
        var produced: Set<Labels> = []
        var out: [VectorElement] = []
        for element in lhs {
            let key = signature(element.labels, binary)
            guard let other = bySignature[key] else { continue }
            let (left, right) = swapped ? (other.value, element.value) : (element.value, other.value)
            var (value, keep) = Self.apply(binary.op, left, right)
            if binary.returnsBool {
                value = keep ? 1 : 0
            } else if !keep {
                continue
            }
            let labels = resultLabels(element.labels, other.labels, binary)
            if binary.cardinality == .oneToOne {
                guard matched.insert(key).inserted else {
                    throw PromQLEvaluationError(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")
                }
            } else {
                guard produced.insert(labels).inserted else {
                    throw PromQLEvaluationError(
                        "multiple matches for labels: grouping labels must ensure unique matches")
                }
            }
            out.append(VectorElement(labels: labels, value: value))
        }
        return out
    }

    /// Prometheus's `resultMetric`: the many side's labels, less the name for arithmetic and `bool`, cut to the
    /// matching labels (`on`) or without them (`ignoring`) one to one, plus the labels `group_x` brings over.
    func resultLabels(_ many: Labels, _ one: Labels, _ binary: Binary) -> Labels {
        var labels = many
        if Self.dropsName(binary.op) || binary.returnsBool { labels = labels.droppingName }
        if binary.cardinality == .oneToOne {
            labels =
                binary.on
                ? labels.grouping(binary.matching, without: false)
                : Labels(sorted: labels.labels.filter { !binary.matching.contains($0.name) })
        }
        for name in binary.include { labels = labels.setting(name, one[name] ?? "") }
        return labels
    }
}
