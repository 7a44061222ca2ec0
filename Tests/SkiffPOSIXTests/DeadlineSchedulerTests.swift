import SkiffPOSIX
import SkiffTestSupport
import Synchronization
import Testing

/// Timers run by one long-lived task, on a clock the test moves: each step is exact and takes no real time.
@Suite("deadline scheduler on a manual clock")
struct DeadlineSchedulerTests {
    /// Actions report here as they start, so the test waits for each one rather than for time.
    private final class Fired: Sendable {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        func action(_ name: String) -> @Sendable () async -> Void { { [continuation] in continuation.yield(name) } }
    }

    @Test func actionsRunAtTheirDueTimesInOrderAndACancelledOneNever() async throws {
        let clock = ManualClock()
        let scheduler = DeadlineScheduler(clock: clock)
        let fired = Fired()
        var seen = fired.stream.makeAsyncIterator()
        let runner = Task { await scheduler.run() }

        scheduler.schedule(after: .seconds(5), fired.action("five"))
        scheduler.schedule(after: .seconds(2), fired.action("two"))
        let ten = scheduler.schedule(after: .seconds(10), fired.action("ten"))
        #expect(scheduler.cancel(ten))
        #expect(scheduler.pendingCount == 2)

        clock.advance(by: .seconds(1))
        clock.advance(by: .seconds(1))
        #expect(await seen.next() == "two")
        // Nothing else was due at 2 s: exactly one action has started.
        #expect(scheduler.firedCount == 1)
        clock.advance(by: .seconds(3))
        #expect(await seen.next() == "five")

        // Past the cancelled one's time, then a new action scheduled while the runner sleeps without a deadline.
        clock.advance(by: .seconds(15))
        scheduler.schedule(after: .seconds(1), fired.action("twenty-one"))
        clock.advance(by: .seconds(1))
        #expect(await seen.next() == "twenty-one")
        #expect(scheduler.firedCount == 3 && scheduler.pendingCount == 0)
        #expect(!scheduler.cancel(ten))

        runner.cancel()
        await runner.value
    }

    @Test func anEarlierActionWakesARunnerSleepingTowardsALaterOne() async throws {
        let clock = ManualClock()
        let scheduler = DeadlineScheduler(clock: clock)
        let fired = Fired()
        var seen = fired.stream.makeAsyncIterator()
        let runner = Task { await scheduler.run() }
        scheduler.schedule(after: .seconds(60), fired.action("late"))
        // A bound for a failed test only: the runner parks on the clock at once on any machine.
        for _ in 0..<1_000_000 where clock.sleeperCount == 0 { await Task.yield() }
        #expect(clock.sleeperCount == 1)
        scheduler.schedule(after: .seconds(1), fired.action("early"))
        clock.advance(by: .seconds(1))
        #expect(await seen.next() == "early")
        clock.advance(by: .seconds(59))
        #expect(await seen.next() == "late")
        runner.cancel()
        await runner.value
    }

    @Test func cancellingTheRunnerCancelsTheActionsItStarted() async throws {
        let clock = ManualClock()
        let scheduler = DeadlineScheduler(clock: clock)
        let started = Fired()
        var seen = started.stream.makeAsyncIterator()
        let sawCancellation = Mutex(false)
        let runner = Task { await scheduler.run() }
        scheduler.schedule(after: .zero) { [continuation = started.continuation] in
            continuation.yield("started")
            // Sleeps on the manual clock, which never moves again: only cancellation ends it.
            do { try await clock.sleep(until: clock.now.advanced(by: .seconds(3600)), tolerance: nil) } catch {
                sawCancellation.withLock { $0 = true }
            }
        }
        #expect(await seen.next() == "started")
        runner.cancel()
        await runner.value
        #expect(sawCancellation.withLock { $0 })
    }
}
