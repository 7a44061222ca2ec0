import Foundation
import Synchronization
import Testing

@testable import SkiffPOSIX

/// Shared by the suite: loops are long-lived, as in the daemon.
let loopTestGroup: EventLoopGroup = try! EventLoopGroup(loopCount: 2)

@Suite("Event loops")
struct EventLoopTests {

    @Test func executeRunsOnTheLoopThread() async throws {
        let loop = loopTestGroup.loops[0]
        #expect(!loop.inEventLoop)
        let onLoop = try await loop.submit { loop.inEventLoop && EventLoop.current === loop }
        #expect(onLoop)
    }

    @Test func tasksPreferringALoopRunThereAcrossSuspensions() async throws {
        let loop = loopTestGroup.loops[1]
        let observations = try await Task(executorPreference: loop) { () async throws -> [Bool] in
            var seen = [loop.inEventLoop]
            try await Task.sleep(for: .milliseconds(5))
            seen.append(loop.inEventLoop)
            await Task.yield()
            seen.append(loop.inEventLoop)
            return seen
        }.value
        #expect(observations == [true, true, true])
    }

    @Test func timersFireInDeadlineOrderAndCanBeCancelled() async throws {
        let loop = loopTestGroup.loops[0]
        let fired = Mutex<[Int]>([])
        try await loop.submit {
            loop.scheduleTimer(afterNanoseconds: 30_000_000) { fired.withLock { $0.append(3) } }
            loop.scheduleTimer(afterNanoseconds: 10_000_000) { fired.withLock { $0.append(1) } }
            let cancelled = loop.scheduleTimer(afterNanoseconds: 20_000_000) { fired.withLock { $0.append(2) } }
            loop.cancelTimer(cancelled)
            // A timer callback may schedule another timer.
            loop.scheduleTimer(afterNanoseconds: 15_000_000) {
                loop.scheduleTimer(afterNanoseconds: 1_000_000) { fired.withLock { $0.append(4) } }
            }
        }
        // Timers run late on a busy machine but never out of order: once the last (3) has fired, the cancelled
        // one (2, due before it) would have fired too.
        for _ in 0..<12_000 where !fired.withLock({ $0.contains(3) }) { try await Task.sleep(for: .milliseconds(5)) }
        #expect(fired.withLock { $0 } == [1, 4, 3])
    }

    @Test func workFromManyThreadsIsNotLost() async throws {
        let loop = loopTestGroup.loops[1]
        // A class around the atomic: capturing a noncopyable local in escaping closures broke Swift Testing's
        // test records for the whole file on Swift 6.3.1.
        final class Counter: Sendable { let value = Atomic<Int>(0) }
        let counter = Counter()
        await withTaskGroup(of: Void.self) { tasks in
            for _ in 0..<8 {
                tasks.addTask {
                    for _ in 0..<1000 { loop.execute { counter.value.wrappingAdd(1, ordering: .relaxed) } }
                }
            }
        }
        for _ in 0..<200 where counter.value.load(ordering: .relaxed) < 8000 {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(counter.value.load(ordering: .relaxed) == 8000)
    }
}
