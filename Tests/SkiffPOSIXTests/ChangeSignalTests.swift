import Synchronization
import Testing

@testable import SkiffPOSIX

@Suite("change signal")
struct ChangeSignalTests {
    @Test func aChangeMadeWhileNobodyWaitedIsNotLost() async {
        let signal = ChangeSignal()
        let seen = signal.generation
        signal.notify()  // between a waiter's look at the state and its wait: the case that once stalled a drain
        await signal.wait(after: seen, until: .now + .seconds(3600))
        #expect(signal.generation == seen + 1)
    }

    @Test func aWaiterIsWokenByTheNextChange() async {
        let signal = ChangeSignal()
        let seen = signal.generation
        let returned = Atomic(false)
        let waiter = Task {
            await signal.wait(after: seen, until: .now + .seconds(3600))
            returned.store(true, ordering: .releasing)
        }
        // Notified until the waiter returns: whether it had parked yet or not, a change must end its wait.
        while !returned.load(ordering: .acquiring) {
            signal.notify()
            try? await Task.sleep(for: .milliseconds(1))
        }
        await waiter.value
        #expect(signal.generation > seen)
    }

    @Test func withoutAChangeTheWaitEndsAtItsDeadlineOrOnCancellation() async {
        let signal = ChangeSignal()
        await signal.wait(after: signal.generation, until: .now + .milliseconds(20))
        let cancelled = Task { await signal.wait(after: signal.generation, until: .now + .seconds(3600)) }
        cancelled.cancel()
        await cancelled.value
        #expect(signal.generation == 0)
    }

    @Test func firstReturnsTheValueOnceAChangeMakesItAppearAndNilAtTheDeadline() async {
        let signal = ChangeSignal()
        let box = Mutex<Int?>(nil)
        #expect(await signal.first(until: .now + .milliseconds(20)) { box.withLock { $0 } } == nil)
        let waiter = Task { await signal.first(until: .now + .seconds(3600)) { box.withLock { $0 } } }
        box.withLock { $0 = 7 }
        signal.notify()
        #expect(await waiter.value == 7)
    }

    /// A worker waits for new work and for room at once: a change of either ends the wait, and however it ends,
    /// the wait leaves nothing behind in either signal.
    @Test func aWaitOnSeveralSignalsEndsAtTheFirstChangeOfAnyAndLeavesNothingBehind() async {
        let work = ChangeSignal()
        let room = ChangeSignal()
        for round in 0..<200 {
            let seenWork = work.generation
            let seenRoom = room.generation
            let waiter = Task {
                await ChangeSignal.wait(forAnyOf: [(work, seenWork), (room, seenRoom)], until: .now + .seconds(3600))
            }
            let returned = Atomic(false)
            let watcher = Task {
                await waiter.value
                returned.store(true, ordering: .releasing)
            }
            // Notified until it returns: before or after it parked, one change of either must end it.
            while !returned.load(ordering: .acquiring) {
                (round % 2 == 0 ? work : room).notify()
                await Task.yield()
            }
            await watcher.value
        }
        await ChangeSignal.wait(forAnyOf: [(work, work.generation), (room, room.generation)], until: .now)
        await ChangeSignal.wait(
            forAnyOf: [(work, work.generation), (room, room.generation)], until: .now + .milliseconds(5))
        #expect(work.waiterCount == 0 && room.waiterCount == 0)
    }
}
