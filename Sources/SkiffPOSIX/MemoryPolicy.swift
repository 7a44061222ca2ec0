import CLinux

/// How a long-running server gives memory back.
public enum MemoryPolicy {
    /// Buffers of 256 KiB and more (a burst's queues and socket buffers) are mapped on their own and returned to
    /// the system when freed, and the heap is trimmed above that: after a burst the daemon shrinks back instead of
    /// keeping its peak for good. Call once, early.
    public static func returnLargeBuffersToTheSystem() {
        _ = cl_return_large_buffers(256 * 1024)
    }
}
