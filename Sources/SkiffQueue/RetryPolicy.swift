/// When an asynchronous call is tried again, and when it is given up. Exponential back-off with full jitter
/// (AWS's "full jitter": a random wait between zero and the capped exponential), so that calls failing together
/// do not come back together.
public struct RetryPolicy: Sendable, Equatable {
    public var minimum: Duration
    public var maximum: Duration
    /// Tries at most, the first included.
    public var maxAttempts: Int

    public init(minimum: Duration = .seconds(1), maximum: Duration = .seconds(120), maxAttempts: Int = 10) {
        self.minimum = minimum
        self.maximum = maximum
        self.maxAttempts = maxAttempts
    }

    /// Answers worth another try: the function (or its replica) was busy, unreachable or slow, or the gateway
    /// or watchdog said it failed the call (`X-OpenFaaS-Internal`). Any other answer is the function's own.
    public static func isRetried(status: Int, internalFailure: Bool) -> Bool {
        internalFailure || [429, 502, 503, 504].contains(status)
    }

    /// The cap on the wait after try number `attempt` (1 for the first): minimum × 2^(attempt−1), at most maximum.
    public func ceiling(afterAttempt attempt: Int) -> Duration {
        var wait = minimum
        for _ in 1..<max(attempt, 1) {
            wait = wait * 2
            if wait >= maximum { return maximum }
        }
        return min(wait, maximum)
    }

    /// The wait after try number `attempt`: at least half the ceiling, at most all of it (half-jitter keeps the
    /// back-off observable while spreading calls that failed together).
    public func wait(afterAttempt attempt: Int, random: Double = Double.random(in: 0...1)) -> Duration {
        let ceiling = ceiling(afterAttempt: attempt)
        return ceiling / 2 + ceiling * (min(max(random, 0), 1) / 2)
    }
}
