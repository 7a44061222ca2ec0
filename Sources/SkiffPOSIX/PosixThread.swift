import CLinux
import Glibc

/// An OS thread for work that must never run on Swift's cooperative pool (event loops, blocking waits, syncs).
///
/// A thread is either joined (``init(name:_:)`` then ``join()``: event loops, whose owner waits for them) or
/// detached (``detach(name:_:)``, ``run(name:_:)``: everything that is started and forgotten). A joinable thread
/// that is never joined keeps its stack mapped after it ends: a daemon that started one per batch of writes or
/// per child process ran out of memory mappings (`vm.max_map_count`) after some ten thousand of them, and every
/// thread it tried to start from then on failed with EAGAIN.
public final class PosixThread: Sendable {
    // @unchecked-free: pthread_t is an integer on Linux.
    private let handle: pthread_t

    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Starts a thread that the caller must ``join()``.
    public init(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        handle = try Self.start(name: name, detached: false, body)
    }

    /// Starts a thread that nobody joins: its resources go back to the system as soon as it ends.
    public static func detach(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        _ = try start(name: name, detached: true, body)
    }

    private static func start(
        name: String, detached: Bool, _ body: @escaping @Sendable () -> Void
    ) throws(SystemError) -> pthread_t {
        var attributes = pthread_attr_t()
        guard pthread_attr_init(&attributes) == 0 else { throw SystemError(call: "pthread_attr_init", errno: ENOMEM) }
        defer { pthread_attr_destroy(&attributes) }
        if detached { _ = pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED)) }
        var handle = pthread_t()
        // Thread names are limited to 15 bytes by the kernel.
        let shortName = String(name.prefix(15))
        let box = Unmanaged.passRetained(
            Box({
                _ = cl_set_thread_name(shortName)
                body()
            })
        ).toOpaque()
        let result = pthread_create(
            &handle, &attributes,
            { raw in
                guard let raw else { return nil }
                let box = Unmanaged<Box>.fromOpaque(raw).takeRetainedValue()
                box.body()
                return nil
            }, box)
        if result != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
            throw SystemError(call: "pthread_create", errno: result)
        }
        return handle
    }

    /// Runs blocking `work` (poll, waitpid, a blocking read) on a detached thread of its own and returns its result
    /// to the awaiting task, so Swift's cooperative threads are never blocked. Throws only when no thread can be
    /// started.
    public static func run<T: Sendable>(name: String, _ work: @escaping @Sendable () -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            do {
                try detach(name: name) { continuation.resume(returning: work()) }
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }

    /// Waits for the thread to finish. Blocks the caller.
    public func join() {
        _ = pthread_join(handle, nil)
    }
}
