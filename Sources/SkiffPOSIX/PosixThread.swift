import CLinux
import Glibc

/// A joinable OS thread for work that must never run on Swift's cooperative pool (event loops, blocking waits).
public final class PosixThread: Sendable {
    // @unchecked-free: pthread_t is an integer on Linux.
    private let handle: pthread_t

    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    public init(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
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
            &handle, nil,
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
        self.handle = handle
    }

    /// Runs blocking `work` (poll, waitpid, a blocking read) on a thread of its own and returns its result to the
    /// awaiting task, so Swift's cooperative threads are never blocked. Throws only when no thread can be started.
    public static func run<T: Sendable>(name: String, _ work: @escaping @Sendable () -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            do {
                _ = try PosixThread(name: name) { continuation.resume(returning: work()) }
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
