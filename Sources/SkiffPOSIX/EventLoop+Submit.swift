extension EventLoop {
    /// Runs `operation` with this loop as the task's executor: directly when already on the loop, otherwise after
    /// hopping onto it. The way async entry points of loop-confined objects make sure they run on their loop.
    public func onLoop<T>(_ operation: () async throws -> T) async throws -> T {
        if inEventLoop { return try await operation() }
        return try await withTaskExecutorPreference(self, operation: operation)
    }

    /// Runs `work` on the loop thread and returns its result to the caller's task.
    /// For setup and teardown (registering listeners); hot paths use the loop as a task executor instead.
    public func submit<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        if inEventLoop { return try work() }
        return try await withUnsafeThrowingContinuation { continuation in
            execute {
                do {
                    continuation.resume(returning: try work())
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}
