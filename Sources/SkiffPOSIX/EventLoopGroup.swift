import Glibc
import Synchronization

/// A fixed set of event loops, one per core by default, each on its own thread.
/// Long-lived: the daemon makes one and every server, client and (later) the NATS broker share it.
public final class EventLoopGroup: Sendable {
    public let loops: [EventLoop]
    private let threads: [PosixThread]
    private let nextIndex = Atomic<Int>(0)

    /// Starts `loopCount` loops (default: the number of online cores).
    public init(loopCount: Int = EventLoopGroup.coreCount) throws(SystemError) {
        var loops: [EventLoop] = []
        for index in 0..<max(1, loopCount) { loops.append(try EventLoop(index: index)) }
        self.loops = loops
        var threads: [PosixThread] = []
        for loop in loops {
            threads.append(try PosixThread(name: "skiff-loop-\(loop.index)") { loop.run() })
        }
        self.threads = threads
    }

    public static var coreCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// The calling thread's loop when called from one (keeps a request's work on its loop), else the next in turn.
    public func next() -> EventLoop {
        if let current = EventLoop.current, loops.contains(where: { $0 === current }) { return current }
        let index = nextIndex.wrappingAdd(1, ordering: .relaxed).oldValue
        return loops[index % loops.count]
    }

    /// Stops every loop and waits for its thread. Blocks: call it from outside the loops, at the very end.
    public func shutdown() {
        for loop in loops { loop.stop() }
        for thread in threads { thread.join() }
    }
}
