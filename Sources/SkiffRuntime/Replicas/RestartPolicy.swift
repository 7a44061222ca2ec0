/// How long a crashed replica waits before its restart: from the initial delay, doubling with each crash in a
/// row, capped at the maximum; a replica that ran for `forgivenAfter` before crashing starts over from the
/// initial delay. Pure, so every case is a unit test.
struct RestartPolicy: Sendable, Equatable {
    var initialDelay: Duration
    var maximumDelay: Duration
    var forgivenAfter: Duration = .seconds(60)

    /// The crashes in a row once this one is counted: reset when the replica had run long enough.
    func consecutiveCrashes(before previous: Int, ranFor: Duration?) -> Int {
        guard let ranFor, ranFor > forgivenAfter else { return previous + 1 }
        return 1
    }

    /// The wait before restarting after `consecutiveCrashes` crashes in a row (1 for the first).
    func delay(afterConsecutiveCrashes consecutiveCrashes: Int) -> Duration {
        let exponent = min(max(consecutiveCrashes - 1, 0), 16)
        return min(initialDelay * (1 << exponent), maximumDelay)
    }
}
