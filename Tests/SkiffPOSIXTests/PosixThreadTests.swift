import Foundation
import SkiffPOSIX
import Synchronization
import Testing

@Suite("Threads")
struct PosixThreadTests {
    /// The process's memory mappings, as the kernel lists them.
    private static func mappings() throws -> Int {
        // Read to its end: /proc files say they are empty, and a read of the size they report stops at a page.
        let file = try #require(FileHandle(forReadingAtPath: "/proc/self/maps"))
        defer { try? file.close() }
        return file.readDataToEndOfFile().reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
    }

    /// A thread started and forgotten (a log's committer, a child process's waiter) gives its stack back when it
    /// ends. Left joinable, each kept two mappings (its stack and guard page) for the life of the process, and a
    /// daemon that had queued a few hundred thousand calls could start no thread at all (EAGAIN at
    /// `vm.max_map_count`): its queue stopped.
    @Test func threadsStartedAndForgottenGiveTheirStacksBack() async throws {
        let before = try Self.mappings()
        // One at a time, each waited for on this thread: awaiting each through the cooperative pool took over two
        // minutes under the full suite.
        let ended = DispatchSemaphore(value: 0)
        for _ in 0..<3000 {
            try PosixThread.detach(name: "test-forgotten") { ended.signal() }
            ended.wait()
        }
        // `run`, which the runtime's child processes use, is built on the same detached threads.
        var total = 0
        for value in 0..<100 {
            total += try await PosixThread.run(name: "test-forgotten") { value % 2 }
        }
        #expect(total == 50)
        let grown = try Self.mappings() - before
        // Each leaked thread would add two mappings (6,200 here); a few threads may still be ending, and glibc
        // caches some stacks for reuse.
        #expect(grown < 300, "the process has \(grown) more memory mappings after 3,100 finished threads")
    }

    @Test func aJoinedThreadHasRunToItsEnd() throws {
        let done = Counter()
        let thread = try PosixThread(name: "test-joined") { done.add() }
        thread.join()
        #expect(done.value == 1)
    }
}

private final class Counter: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
