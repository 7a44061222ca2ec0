/// What `operation` gives, or nil when `timeout` passes first (the operation is then cancelled): for a wait whose
/// bound only ends a case that has already gone wrong.
public func first<T: Sendable>(
    within timeout: Duration, _ operation: @escaping @Sendable () async -> T?
) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await operation() }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}
