import Glibc

/// Runs a drain on a thread of its own whenever ``signal()`` says there is work: for blocking work done in
/// batches (a log's writes and syncs), where whatever arrives while one batch runs goes into the next.
///
/// The owner attaches its drain once (``attach(_:)``, capturing the owner weakly: the thread may outlive it by the
/// linger time). The drain takes everything there is and returns when it finds nothing; a signal given while it runs makes it run
/// again. The thread then waits a while (`linger`) for the next signal before it ends, so steady traffic keeps one
/// thread instead of starting one per batch: starting a thread for every commit was a tenth of the daemon's time
/// while the queue drained, and an idle log still holds no thread.
public final class DrainThread: @unchecked Sendable {
    // @unchecked: every stored property is either immutable or guarded by `mutex` (a pthread mutex, because the
    // thread waits on a condition variable with a timeout, which Synchronization's Mutex cannot do).
    private let name: String
    private let lingerNanoseconds: Int
    private var drain: @Sendable () -> Void = {}
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var signalled = false
    private var running = false

    public init(name: String, linger: Duration = .seconds(1)) {
        self.name = name
        self.lingerNanoseconds = Int(linger.nanoseconds)
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// What runs when there is work.
    public func attach(_ drain: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(mutex)
        self.drain = drain
        pthread_mutex_unlock(mutex)
    }

    /// There is work: `drain` runs (again) after this call, on the waiting thread or on a new one. Throws when no
    /// thread can be started; the work is then not drained until a later signal succeeds.
    public func signal() throws(SystemError) {
        pthread_mutex_lock(mutex)
        signalled = true
        if running {
            pthread_cond_signal(condition)
            pthread_mutex_unlock(mutex)
            return
        }
        running = true
        pthread_mutex_unlock(mutex)
        do {
            // The thread holds the object until it ends, so a lingering thread never outlives it.
            try PosixThread.detach(name: name) { [self] in serve() }
        } catch {
            pthread_mutex_lock(mutex)
            running = false
            pthread_mutex_unlock(mutex)
            throw error
        }
    }

    private func serve() {
        while let drain = waitForSignal() { drain() }
    }

    /// The drain when there is work; nil when none came within the linger time (the thread then ends).
    private func waitForSignal() -> (@Sendable () -> Void)? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if !signalled {
            var deadline = timespec()
            clock_gettime(CLOCK_MONOTONIC, &deadline)
            let nanoseconds = deadline.tv_nsec + lingerNanoseconds
            deadline.tv_sec += nanoseconds / 1_000_000_000
            deadline.tv_nsec = nanoseconds % 1_000_000_000
            while !signalled {
                if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT { break }
            }
        }
        guard signalled else {
            running = false
            return nil
        }
        signalled = false
        return drain
    }
}
