/// PromQL's functions as Prometheus 2.42 declares them: argument types, how many may be left out, what they return.
struct PromQLFunction: Sendable {
    let arguments: [PromQLExpression.ValueType]
    /// Trailing arguments that may be left out (-1: the last may repeat without bound, as `label_join`'s).
    let optional: Int
    let returns: PromQLExpression.ValueType
}

enum PromQLFunctions {
    static let all: [String: PromQLFunction] = {
        var table: [String: PromQLFunction] = [:]
        func add(
            _ names: [String], _ arguments: [PromQLExpression.ValueType], optional: Int = 0,
            _ returns: PromQLExpression.ValueType
        ) {
            for name in names {
                table[name] = PromQLFunction(arguments: arguments, optional: optional, returns: returns)
            }
        }
        add(
            [
                "abs", "ceil", "floor", "exp", "sqrt", "ln", "log2", "log10", "sgn", "acos", "acosh", "asin", "asinh",
                "atan", "atanh", "cos", "cosh", "sin", "sinh", "tan", "tanh", "deg", "rad", "absent", "sort",
                "sort_desc", "timestamp",
            ], [.vector], .vector)
        add(["round"], [.vector, .scalar], optional: 1, .vector)
        add(["clamp"], [.vector, .scalar, .scalar], .vector)
        add(["clamp_max", "clamp_min"], [.vector, .scalar], .vector)
        add(
            ["day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year"],
            [.vector], optional: 1, .vector)
        add(
            [
                "rate", "irate", "increase", "delta", "idelta", "deriv", "resets", "changes", "avg_over_time",
                "min_over_time", "max_over_time", "sum_over_time", "count_over_time", "stddev_over_time",
                "stdvar_over_time", "last_over_time", "present_over_time", "absent_over_time",
            ], [.matrix], .vector)
        add(["quantile_over_time"], [.scalar, .matrix], .vector)
        add(["predict_linear"], [.matrix, .scalar], .vector)
        add(["holt_winters"], [.matrix, .scalar, .scalar], .vector)
        add(["histogram_quantile"], [.scalar, .vector], .vector)
        add(["label_replace"], [.vector, .string, .string, .string, .string], .vector)
        add(["label_join"], [.vector, .string, .string, .string], optional: -1, .vector)
        add(["scalar"], [.vector], .scalar)
        add(["vector"], [.scalar], .vector)
        add(["time", "pi"], [], .scalar)
        return table
    }()

    static let aggregations: Set<String> = [
        "sum", "avg", "count", "min", "max", "group", "stddev", "stdvar", "topk", "bottomk", "count_values", "quantile",
    ]
}
