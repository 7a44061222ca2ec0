extension Duration {
    /// Whole nanoseconds, clamped to [0, ``maximumNanoseconds``]: what timers and deadlines on the monotonic clock
    /// use. The upper clamp keeps `now + duration` from wrapping into the past (or trapping) for any value a
    /// caller or a setting can name.
    public var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        guard seconds < Int64(Self.maximumNanoseconds / 1_000_000_000) else { return Self.maximumNanoseconds }
        return UInt64(seconds) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }

    /// About 146 years: far beyond any timeout, far below where monotonic arithmetic overflows.
    public static let maximumNanoseconds: UInt64 = 1 << 62
}

extension Duration {
    /// Seconds as a floating-point number: for metrics, `X-Duration-Seconds` and benchmarks.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// Go's `time.ParseDuration` syntax, as OpenFaaS settings and watchdog environments use it: `500ms`, `30s`,
    /// `1m30s`, `2h`, `0`. Nil when the text is not a duration, or is longer than Go can hold (about 2,562,047 h),
    /// as Go's parser refuses it too.
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
        guard total.isFinite, total <= Self.goMaximumSeconds else { return nil }
        self = .milliseconds(Int64((total * 1000).rounded()))
    }

    /// Go's time.Duration is an int64 of nanoseconds.
    static let goMaximumSeconds = Double(Int64.max) / 1e9
}
