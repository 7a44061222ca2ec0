/// `com.openfaas.scale.min` (default 1, also the count a deploy starts with) and `com.openfaas.scale.max`
/// (default: the daemon's `--max-replicas`, which neither may exceed).
public struct ScaleBounds: Sendable, Equatable {
    public var minimum = 1
    public var maximum: Int
    /// The daemon's `--max-replicas`: asking for more is an error, not something to clamp.
    public let ceiling: Int

    public init(_ labels: [String: String], ceiling: Int) throws(FunctionRuntimeError) {
        self.ceiling = ceiling
        maximum = ceiling
        if let text = labels["com.openfaas.scale.min"] {
            guard let value = Int(text), value >= 0 else {
                throw .invalid("label com.openfaas.scale.min must be a whole number ≥ 0, not '\(text)'")
            }
            guard value <= ceiling else {
                throw .invalid(
                    "label com.openfaas.scale.min (\(value)) exceeds the limit of \(ceiling) replicas per function "
                        + "(skiff serve --max-replicas)")
            }
            minimum = value
        }
        if let text = labels["com.openfaas.scale.max"] {
            guard let value = Int(text), value >= 1 else {
                throw .invalid("label com.openfaas.scale.max must be a whole number ≥ 1, not '\(text)'")
            }
            maximum = Swift.min(value, ceiling)
        }
        guard minimum <= maximum else {
            throw .invalid("label com.openfaas.scale.min (\(minimum)) exceeds com.openfaas.scale.max (\(maximum))")
        }
    }

    /// Zero stays zero (scale to zero is asked for explicitly); otherwise within [min, max].
    public func clamp(_ replicas: Int) -> Int {
        replicas == 0 ? 0 : Swift.min(Swift.max(replicas, minimum), maximum)
    }

    /// What a scale request for `requested` replicas becomes: refused above the daemon's ceiling (before anything
    /// changes), clamped to the function's labels below it.
    public func replicas(for requested: Int) throws(FunctionRuntimeError) -> Int {
        guard requested <= ceiling else {
            throw .invalid(
                "replicas \(requested) exceeds the limit of \(ceiling) per function (skiff serve --max-replicas)")
        }
        return clamp(requested)
    }
}
