import SkiffPOSIX

/// Kubernetes resource quantities, as OpenFaaS limits use them: `128Mi`, `1G`, `500m`, `0.5`, `1e3`.
public enum Quantity {
    /// Bytes for a memory quantity, rounded up to a whole byte.
    public static func memoryBytes(_ text: String, field: String) throws(FunctionRuntimeError) -> Int64 {
        let value = try parse(text, field: field)
        guard value > 0, value < 9.0e18 else {
            throw .invalid("\(field) '\(text)' must be a positive amount of memory such as 128Mi or 1G")
        }
        return Int64(value.rounded(.up))
    }

    /// Thousandths of a CPU core: `0.5` and `500m` are 500.
    public static func milliCPU(_ text: String, field: String) throws(FunctionRuntimeError) -> Int64 {
        let value = try parse(text, field: field) * 1000
        guard value >= 1, value < 1.0e12 else {
            throw .invalid("\(field) '\(text)' must be a CPU amount of at least 1m, such as 0.5 or 500m")
        }
        return Int64(value.rounded(.up))
    }

    private static let suffixes: [(String, Double)] = [
        ("Ki", 1024), ("Mi", 1_048_576), ("Gi", 1_073_741_824), ("Ti", 1_099_511_627_776),
        ("Pi", 1_125_899_906_842_624), ("Ei", 1_152_921_504_606_846_976),
        ("n", 1e-9), ("u", 1e-6), ("m", 1e-3), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15),
        ("E", 1e18),
    ]

    static func parse(_ text: String, field: String) throws(FunctionRuntimeError) -> Double {
        let trimmed = text.trimmingSpaces()
        var number = Substring(trimmed)
        var multiplier = 1.0
        for (suffix, factor) in suffixes where number.hasSuffix(suffix) {
            multiplier = factor
            number = number.dropLast(suffix.count)
            break
        }
        let allowed = number.allSatisfy {
            $0.isASCII && ($0.isNumber || $0 == "." || $0 == "e" || $0 == "+" || $0 == "-")
        }
        guard !number.isEmpty, allowed, let value = Double(number), value.isFinite, value >= 0 else {
            throw .invalid(
                "\(field) '\(text)' is not a Kubernetes quantity; use a number with an optional suffix "
                    + "(Ki, Mi, Gi, k, M, G, m), e.g. 128Mi, 1G, 0.5 or 500m")
        }
        return value * multiplier
    }
}

/// Go duration settings (`grace_period`, timeouts), with an error that names the field.
public enum GoDuration {
    public static func parse(_ text: String, field: String, atMost limit: Duration? = nil) throws(FunctionRuntimeError)
        -> Duration
    {
        guard let duration = Duration(goSyntax: text.trimmingSpaces()) else {
            let most = limit.map { ", at most \(describe($0))" } ?? ""
            throw .invalid(
                "\(field) '\(text)' is not a duration Skiff accepts; use a number with a unit such as 500ms, 30s, 1m\(most)"
            )
        }
        if let limit, duration > limit {
            throw .invalid("\(field) '\(text)' is too long; the most Skiff accepts is \(describe(limit))")
        }
        return duration
    }

    /// The bounds a function's own duration settings are held to at deploy: long enough for any real function,
    /// short enough that a timer or a wait built from them means something.
    public static let timeoutLimit: Duration = .seconds(24 * 3600)
    public static let gracePeriodLimit: Duration = .seconds(3600)

    /// `24h`, `1h`, `90s`: whole hours or seconds, as the limits are.
    static func describe(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        return seconds % 3600 == 0 ? "\(seconds / 3600)h" : "\(seconds)s"
    }
}
