extension Duration {
    /// Whole nanoseconds, clamped at zero: what timers and deadlines on the monotonic clock use.
    public var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        return UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}

extension Duration {
    /// Seconds as a floating-point number: for metrics, `X-Duration-Seconds` and benchmarks.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// Go's `time.ParseDuration` syntax, as OpenFaaS settings and watchdog environments use it: `500ms`, `30s`,
    /// `1m30s`, `2h`, `0`. Nil when the text is not a duration.
    public init?(goSyntax text: String) {
        let units: [(String, Double)] = [
            ("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600),
        ]
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        if rest == "0" {
            self = .zero
            return
        }
        var total = 0.0
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            rest = rest.dropFirst(digits.count)
            guard let number = Double(digits),
                let unit = units.first(where: { rest.hasPrefix($0.0) && !(rest.hasPrefix("ms") && $0.0 == "m") })
            else { return nil }
            rest = rest.dropFirst(unit.0.count)
            total += number * unit.1
        }
        self = .milliseconds(Int64((total * 1000).rounded()))
    }
}
