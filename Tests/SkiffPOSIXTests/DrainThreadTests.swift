import Foundation
import SkiffPOSIX
import Synchronization
import Testing

/// Work signalled from many threads is all drained, by one thread at a time, which ends once the work stops.
@Suite("Drain thread")
struct DrainThreadTests {
    private final class Work: Sendable {
        let queued = Mutex<Int>(0)
        let drained = Atomic<Int>(0)
        let concurrent = Atomic<Int>(0)
        let overlapped = Atomic<Bool>(false)
    }

    /// Names of this process's threads now.
    private static func threadNames() -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    @Test func everySignalledItemIsDrainedByOneThreadAtATime() async throws {
        let work = Work()
        let drain = DrainThread(name: "skiff-drain-t1", linger: .milliseconds(20))
        drain.attach {
            if work.concurrent.add(1, ordering: .sequentiallyConsistent).newValue > 1 {
                work.overlapped.store(true, ordering: .sequentiallyConsistent)
            }
            let taken = work.queued.withLock { queued in
                defer { queued = 0 }
                return queued
            }
            work.drained.add(taken, ordering: .sequentiallyConsistent)
            work.concurrent.subtract(1, ordering: .sequentiallyConsistent)
        }
        let producers = 8
        let items = 2_000
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<producers {
                group.addTask {
                    for _ in 0..<items {
                        work.queued.withLock { $0 += 1 }
                        try drain.signal()
                    }
                }
            }
            try await group.waitForAll()
        }
        // Every item was signalled after it was queued, so a drain runs after the last one: bounded, not timed.
        for _ in 0..<6_000 where work.drained.load(ordering: .sequentiallyConsistent) < producers * items {
            try await Task.sleep(for: .milliseconds(10))
        }
        let drained = work.drained.load(ordering: .sequentiallyConsistent)
        let overlapped = work.overlapped.load(ordering: .sequentiallyConsistent)
        #expect(drained == producers * items)
        #expect(!overlapped)
    }

    @Test func theThreadEndsWhenNoWorkComesAndStartsAgainWhenItDoes() async throws {
        let drained = Atomic<Int>(0)
        let drain = DrainThread(name: "skiff-drain-t2", linger: .milliseconds(10))
        drain.attach { drained.add(1, ordering: .sequentiallyConsistent) }
        for round in 1...3 {
            try drain.signal()
            for _ in 0..<6_000 where drained.load(ordering: .sequentiallyConsistent) < round {
                try await Task.sleep(for: .milliseconds(10))
            }
            let runs = drained.load(ordering: .sequentiallyConsistent)
            #expect(runs >= round)
            for _ in 0..<6_000 where Self.threadNames().contains("skiff-drain-t2") {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(!Self.threadNames().contains("skiff-drain-t2"), "the thread lingered past its time")
        }
    }
}
