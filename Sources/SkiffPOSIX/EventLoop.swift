import CLinux
import Glibc
import Synchronization

/// Something registered with an event loop for readiness of one descriptor.
/// `handleEvents` is called on the loop's thread only.
public protocol EventLoopHandler: AnyObject {
    func handleEvents(_ events: UInt32)
}

/// Called once at the end of the loop tick in which it was requested (see ``EventLoop/requestEndOfTick(_:)``).
/// Connections use it to write everything a tick produced (pipelined responses) in one system call.
public protocol EndOfTickHandler: AnyObject {
    func endOfTick()
}

/// Readiness a handler waits for.
public struct Interest: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let read = Interest(rawValue: cl_EPOLLIN | cl_EPOLLRDHUP)
    public static let write = Interest(rawValue: cl_EPOLLOUT)
    /// Readable, waking only one of the loops that share the descriptor (a listening socket registered with
    /// every loop). EPOLLEXCLUSIVE admits no other flags than these.
    public static let acceptExclusive = Interest(rawValue: cl_EPOLLIN | cl_EPOLLEXCLUSIVE)
}

/// Event bits as delivered to ``EventLoopHandler/handleEvents(_:)``.
public enum EventBits {
    public static let readable = cl_EPOLLIN
    public static let writable = cl_EPOLLOUT
    public static let error = cl_EPOLLERR
    public static let hangup = cl_EPOLLHUP
    public static let readHangup = cl_EPOLLRDHUP
}

/// One epoll loop on its own thread. It owns the descriptors registered with it, runs their handlers,
/// runs closures and timers, and is a `TaskExecutor`: a task started with it as executor preference runs
/// its non-isolated code on this thread, so a request handler and the connection it serves never hop threads.
///
/// Thread-safety: ``execute(_:)``, ``enqueue(_:)``, ``stop()`` and ``inEventLoop`` may be called from any thread;
/// everything else only on the loop's thread (checked with `assert` in debug builds).
public final class EventLoop: TaskExecutor, @unchecked Sendable {
    // @unchecked: the `var`s below are confined to the loop thread; cross-thread state is in `inbox` and atomics.
    public let index: Int
    private let epollFD: Int32
    private let wakeFD: Int32
    private var handlers: [(any EventLoopHandler)?] = []
    private var endOfTickHandlers: [any EndOfTickHandler] = []
    private var localJobs: [UnownedJob] = []
    private var localWork: [() -> Void] = []
    private var timers = TimerQueue()
    private let inbox = Mutex(Inbox())
    private let threadID = Atomic<UInt>(0)
    private let isRunning = Atomic<Bool>(true)
    /// The monotonic time at the start of the current tick, in nanoseconds. Loop thread only.
    public private(set) var now: UInt64 = monotonicNanoseconds()

    private struct Inbox: ~Copyable {
        var jobs: [UnownedJob] = []
        var work: [@Sendable () -> Void] = []
    }

    init(index: Int) throws(SystemError) {
        self.index = index
        epollFD = try systemCall("epoll_create1", { cl_epoll_create() })
        do {
            wakeFD = try systemCall("eventfd", { cl_eventfd() })
        } catch {
            Socket.close(epollFD)
            throw error
        }
        _ = try systemCall(
            "epoll_ctl(eventfd)", { cl_epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, cl_EPOLLIN, UInt64(wakeFD)) })
    }

    deinit {
        Socket.close(wakeFD)
        Socket.close(epollFD)
    }

    /// True on this loop's own thread.
    public var inEventLoop: Bool { pthread_self() == threadID.load(ordering: .relaxed) }

    /// The loop whose thread is calling, if any.
    public static var current: EventLoop? {
        guard let raw = pthread_getspecific(currentLoopKey) else { return nil }
        return Unmanaged<EventLoop>.fromOpaque(raw).takeUnretainedValue()
    }

    // MARK: Descriptors

    public func register(_ fd: Int32, interest: Interest, handler: any EventLoopHandler) throws(SystemError) {
        assert(inEventLoop, "register must run on the loop thread")
        let slot = Int(fd)
        if slot >= handlers.count { handlers.append(contentsOf: repeatElement(nil, count: slot - handlers.count + 64)) }
        _ = try systemCall(
            "epoll_ctl(ADD)", { cl_epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, interest.rawValue, UInt64(fd)) })
        handlers[slot] = handler
    }

    public func modify(_ fd: Int32, interest: Interest) {
        assert(inEventLoop, "modify must run on the loop thread")
        _ = cl_epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, interest.rawValue, UInt64(fd))
    }

    /// Removes the descriptor from epoll; the caller still owns and closes it.
    public func deregister(_ fd: Int32) {
        assert(inEventLoop, "deregister must run on the loop thread")
        _ = cl_epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, 0, 0)
        if Int(fd) < handlers.count { handlers[Int(fd)] = nil }
    }

    /// Asks for `handler.endOfTick()` once, after this tick's events, jobs and timers have run.
    public func requestEndOfTick(_ handler: any EndOfTickHandler) {
        assert(inEventLoop, "requestEndOfTick must run on the loop thread")
        endOfTickHandlers.append(handler)
    }

    // MARK: Work from any thread

    /// Runs `work` on the loop thread, soon. From the loop thread itself it runs later in the same tick.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        if inEventLoop {
            localWork.append(work)
            return
        }
        post { $0.work.append(work) }
    }

    /// Runs loop-confined `work` later in this tick. Loop thread only; for work that is not `Sendable`.
    public func executeLocal(_ work: @escaping () -> Void) {
        assert(inEventLoop, "executeLocal must run on the loop thread")
        localWork.append(work)
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        if inEventLoop {
            localJobs.append(unowned)
            return
        }
        post { $0.jobs.append(unowned) }
    }

    /// Adds to the inbox from another thread; wakes the loop only when the inbox was empty (a wake is pending
    /// otherwise).
    private func post(_ add: (inout Inbox) -> Void) {
        let wasEmpty = inbox.withLock { inbox in
            let empty = inbox.jobs.isEmpty && inbox.work.isEmpty
            add(&inbox)
            return empty
        }
        if wasEmpty { wake() }
    }

    private func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    // MARK: Timers (loop thread only)

    /// Runs `work` on the loop once `nanoseconds` have passed; returns a handle for ``cancelTimer(_:)``.
    @discardableResult
    public func scheduleTimer(afterNanoseconds nanoseconds: UInt64, _ work: @escaping () -> Void) -> TimerHandle {
        assert(inEventLoop, "scheduleTimer must run on the loop thread")
        return timers.schedule(at: monotonicNanoseconds() &+ nanoseconds, work)
    }

    public func cancelTimer(_ handle: TimerHandle) {
        assert(inEventLoop, "cancelTimer must run on the loop thread")
        timers.cancel(handle)
    }

    // MARK: Running

    /// Asks the loop to finish its current tick and return from ``run()``.
    public func stop() {
        isRunning.store(false, ordering: .releasing)
        wake()
    }

    /// Runs the loop on the calling thread until ``stop()``. Blocks; called by ``EventLoopGroup`` on a dedicated thread.
    func run() {
        threadID.store(pthread_self(), ordering: .releasing)
        pthread_setspecific(currentLoopKey, Unmanaged.passUnretained(self).toOpaque())
        let capacity = 256
        var events = [UInt32](repeating: 0, count: capacity)
        var data = [UInt64](repeating: 0, count: capacity)
        while isRunning.load(ordering: .acquiring) {
            let timeout: Int32 = localJobs.isEmpty && localWork.isEmpty ? timers.timeoutMilliseconds(now: now) : 0
            let count = cl_epoll_wait(epollFD, &events, &data, Int32(capacity), timeout)
            now = monotonicNanoseconds()
            if count > 0 {
                for i in 0..<Int(count) {
                    let fd = Int(data[i])
                    if fd == Int(wakeFD) {
                        var value: UInt64 = 0
                        _ = Glibc.read(wakeFD, &value, 8)
                    } else if fd < handlers.count, let handler = handlers[fd] {
                        handler.handleEvents(events[i])
                    }
                }
            }
            runQueuedWork()
            let expired = timers.popExpired(now: monotonicNanoseconds())
            if !expired.isEmpty {
                for work in expired { work() }
                runQueuedWork()
            }
            runEndOfTick()
        }
        // Leave no job behind: tasks waiting on this loop get to run (and observe their failures).
        runQueuedWork()
        pthread_setspecific(currentLoopKey, nil)
    }

    private func runQueuedWork() {
        // Bounded, so a task that keeps rescheduling itself cannot starve I/O.
        for _ in 0..<64 {
            inbox.withLock { inbox in
                if !inbox.jobs.isEmpty {
                    localJobs.append(contentsOf: inbox.jobs)
                    inbox.jobs.removeAll(keepingCapacity: true)
                }
                if !inbox.work.isEmpty {
                    for work in inbox.work { localWork.append(work) }
                    inbox.work.removeAll(keepingCapacity: true)
                }
            }
            if localJobs.isEmpty && localWork.isEmpty { return }
            if !localWork.isEmpty {
                let work = localWork
                localWork.removeAll(keepingCapacity: true)
                for item in work { item() }
            }
            if !localJobs.isEmpty {
                let jobs = localJobs
                localJobs.removeAll(keepingCapacity: true)
                let executor = asUnownedTaskExecutor()
                for job in jobs { job.runSynchronously(on: executor) }
            }
        }
    }

    private func runEndOfTick() {
        while !endOfTickHandlers.isEmpty {
            let batch = endOfTickHandlers
            endOfTickHandlers.removeAll(keepingCapacity: true)
            for handler in batch { handler.endOfTick() }
        }
    }
}

private let currentLoopKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
}()
