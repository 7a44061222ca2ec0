/// Prometheus's checks after parsing: argument types, operand types, selectors that select something.
extension Parser {
    func check(_ expression: PromQLExpression) throws(PromQLError) {
        switch expression {
        case .number, .string: return
        case .vector(let selector), .matrix(let selector, _):
            guard selector.matchers.contains(where: { !$0.matchesEmpty }) else {
                throw PromQLError.parse(offset: 0, "vector selector must contain at least one non-empty matcher")
            }
        case .subquery(let inner, _, _, _):
            try check(inner)
            guard inner.type == .vector || inner.type == .scalar else {
                throw PromQLError.parse(
                    offset: 0, "subquery is only allowed on instant vector, got \(inner.type) instead")
            }
        case .parenthesised(let inner):
            try check(inner)
        case .negate(let inner):
            try check(inner)
            guard inner.type == .scalar || inner.type == .vector else {
                throw PromQLError.parse(
                    offset: 0,
                    "unary expression only allowed on expressions of type scalar or instant vector, got \"\(inner.type)\""
                )
            }
        case .call(let name, let arguments):
            for argument in arguments { try check(argument) }
            try checkCall(name, arguments)
        case .aggregate(let aggregation):
            try check(aggregation.expression)
            guard aggregation.expression.type == .vector else {
                throw PromQLError.parse(
                    offset: 0,
                    "expected type instant vector in aggregation expression, got \(Self.typeName(aggregation.expression.type))"
                )
            }
            if let parameter = aggregation.parameter {
                try check(parameter)
                let wanted: PromQLExpression.ValueType = aggregation.op == "count_values" ? .string : .scalar
                guard parameter.type == wanted else {
                    throw PromQLError.parse(
                        offset: 0,
                        "expected type \(Self.typeName(wanted)) in aggregation parameter, got \(Self.typeName(parameter.type))"
                    )
                }
            }
        case .binary(let binary):
            try check(binary.lhs)
            try check(binary.rhs)
            try checkBinary(binary)
        }
    }

    func checkCall(_ name: String, _ arguments: [PromQLExpression]) throws(PromQLError) {
        guard let function = PromQLFunctions.all[name] else {
            throw PromQLError.parse(offset: 0, "unknown function with name \"\(name)\"")
        }
        let declared = function.arguments.count
        if function.optional == 0 {
            guard arguments.count == declared else {
                throw PromQLError.parse(
                    offset: 0, "expected \(declared) argument(s) in call to \"\(name)\", got \(arguments.count)")
            }
        } else {
            guard arguments.count >= declared - 1 else {
                throw PromQLError.parse(
                    offset: 0,
                    "expected at least \(declared - 1) argument(s) in call to \"\(name)\", got \(arguments.count)")
            }
            if function.optional > 0 && arguments.count > declared - 1 + function.optional {
                throw PromQLError.parse(
                    offset: 0,
                    "expected at most \(declared - 1 + function.optional) argument(s) in call to \"\(name)\", got \(arguments.count)"
                )
            }
        }
        for (position, argument) in arguments.enumerated() {
            let wanted = function.arguments[min(position, declared - 1)]
            guard argument.type == wanted else {
                throw PromQLError.parse(
                    offset: 0,
                    "expected type \(Self.typeName(wanted)) in call to function \"\(name)\", got \(Self.typeName(argument.type))"
                )
            }
        }
    }

    func checkBinary(_ binary: Binary) throws(PromQLError) {
        for side in [binary.lhs, binary.rhs] where side.type != .scalar && side.type != .vector {
            throw PromQLError.parse(
                offset: 0, "binary expression must contain only scalar and instant vector types")
        }
        let scalars = binary.lhs.type == .scalar && binary.rhs.type == .scalar
        if binary.isComparison && scalars && !binary.returnsBool {
            throw PromQLError.parse(offset: 0, "comparisons between scalars must use BOOL modifier")
        }
        if binary.isSetOperator && (binary.lhs.type == .scalar || binary.rhs.type == .scalar) {
            throw PromQLError.parse(offset: 0, "set operator \"\(binary.op)\" not allowed in binary scalar expression")
        }
        if (binary.on || !binary.matching.isEmpty || binary.cardinality == .manyToOne
            || binary.cardinality == .oneToMany)
            && (binary.lhs.type == .scalar || binary.rhs.type == .scalar)
        {
            throw PromQLError.parse(offset: 0, "vector matching only allowed between instant vectors")
        }
        if binary.isSetOperator && (binary.cardinality == .manyToOne || binary.cardinality == .oneToMany) {
            throw PromQLError.parse(offset: 0, "no grouping allowed for \"\(binary.op)\" operation")
        }
        if binary.cardinality == .manyToOne || binary.cardinality == .oneToMany, binary.on {
            for label in binary.include where binary.matching.contains(label) {
                throw PromQLError.parse(offset: 0, "label \"\(label)\" must not occur in ON and GROUP clause at once")
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
