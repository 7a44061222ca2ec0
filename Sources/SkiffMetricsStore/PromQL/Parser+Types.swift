/// Prometheus's checks of types and arguments, made on each node as the parser builds it (its children are
/// checked by then), so that an error names the position of the node it is about, as Prometheus's does.
extension Parser {
    /// Checks `expression`, which begins at byte `offset` of the query, but not its children.
    func check(_ expression: PromQLExpression, at offset: Int, arguments offsets: [Int] = []) throws(PromQLError) {
        switch expression {
        case .number, .string, .parenthesised: return
        case .vector(let selector), .matrix(let selector, _):
            guard selector.matchers.contains(where: { !$0.matchesEmpty }) else {
                throw PromQLError.parse(offset: offset, "vector selector must contain at least one non-empty matcher")
            }
        case .subquery(let inner, _, _, _):
            guard inner.type == .vector || inner.type == .scalar else {
                throw PromQLError.parse(
                    offset: offset, "subquery is only allowed on instant vector, got \(inner.type) instead")
            }
        case .negate(let inner):
            guard inner.type == .scalar || inner.type == .vector else {
                throw PromQLError.parse(
                    offset: offset,
                    "unary expression only allowed on expressions of type scalar or instant vector, got \"\(inner.type)\""
                )
            }
        case .call(let name, let arguments):
            try checkCall(name, arguments, at: offset, offsets)
        case .aggregate(let aggregation):
            let expressionOffset = offsets.last ?? offset
            guard aggregation.expression.type == .vector else {
                throw PromQLError.parse(
                    offset: expressionOffset,
                    "expected type instant vector in aggregation expression, got \(Self.typeName(aggregation.expression.type))"
                )
            }
            if let parameter = aggregation.parameter {
                let wanted: PromQLExpression.ValueType = aggregation.op == "count_values" ? .string : .scalar
                guard parameter.type == wanted else {
                    throw PromQLError.parse(
                        offset: offsets.first ?? offset,
                        "expected type \(Self.typeName(wanted)) in aggregation parameter, got \(Self.typeName(parameter.type))"
                    )
                }
            }
        case .binary(let binary):
            try checkBinary(binary, at: offset)
        }
    }

    func checkCall(_ name: String, _ arguments: [PromQLExpression], at offset: Int, _ offsets: [Int])
        throws(PromQLError)
    {
        guard let function = PromQLFunctions.all[name] else {
            throw PromQLError.parse(offset: offset, "unknown function with name \"\(name)\"")
        }
        let declared = function.arguments.count
        if function.optional == 0 {
            guard arguments.count == declared else {
                throw PromQLError.parse(
                    offset: offset, "expected \(declared) argument(s) in call to \"\(name)\", got \(arguments.count)")
            }
        } else {
            guard arguments.count >= declared - 1 else {
                throw PromQLError.parse(
                    offset: offset,
                    "expected at least \(declared - 1) argument(s) in call to \"\(name)\", got \(arguments.count)")
            }
            if function.optional > 0 && arguments.count > declared - 1 + function.optional {
                throw PromQLError.parse(
                    offset: offset,
                    "expected at most \(declared - 1 + function.optional) argument(s) in call to \"\(name)\", got \(arguments.count)"
                )
            }
        }
        for (position, argument) in arguments.enumerated() {
            let wanted = function.arguments[min(position, declared - 1)]
            guard argument.type == wanted else {
                throw PromQLError.parse(
                    offset: position < offsets.count ? offsets[position] : offset,
                    "expected type \(Self.typeName(wanted)) in call to function \"\(name)\", got \(Self.typeName(argument.type))"
                )
            }
        }
    }

    func checkBinary(_ binary: Binary, at offset: Int) throws(PromQLError) {
        for side in [binary.lhs, binary.rhs] where side.type != .scalar && side.type != .vector {
            throw PromQLError.parse(
                offset: offset, "binary expression must contain only scalar and instant vector types")
        }
        let scalars = binary.lhs.type == .scalar && binary.rhs.type == .scalar
        if binary.isComparison && scalars && !binary.returnsBool {
            throw PromQLError.parse(offset: offset, "comparisons between scalars must use BOOL modifier")
        }
        if binary.isSetOperator && (binary.lhs.type == .scalar || binary.rhs.type == .scalar) {
            throw PromQLError.parse(
                offset: offset, "set operator \"\(binary.op)\" not allowed in binary scalar expression")
        }
        if (binary.on || !binary.matching.isEmpty || binary.cardinality == .manyToOne
            || binary.cardinality == .oneToMany)
            && (binary.lhs.type == .scalar || binary.rhs.type == .scalar)
        {
            throw PromQLError.parse(offset: offset, "vector matching only allowed between instant vectors")
        }
        if binary.isSetOperator && (binary.cardinality == .manyToOne || binary.cardinality == .oneToMany) {
            throw PromQLError.parse(offset: offset, "no grouping allowed for \"\(binary.op)\" operation")
        }
        if binary.cardinality == .manyToOne || binary.cardinality == .oneToMany, binary.on {
            for label in binary.include where binary.matching.contains(label) {
                throw PromQLError.parse(
                    offset: offset, "label \"\(label)\" must not occur in ON and GROUP clause at once")
            }
        }
    }

    static func typeName(_ type: PromQLExpression.ValueType) -> String {
        switch type {
        case .scalar: "scalar"
        case .vector: "instant vector"
        case .matrix: "range vector"
        case .string: "string"
        }
    }
}
