/// Identifies a scheduled timer for cancellation.
public struct TimerHandle: Hashable, Sendable {
    let id: UInt64
}

/// A binary min-heap of deadlines with O(1) cancellation (cancelled entries are skipped when they surface).
/// Not thread-safe: owned by one event loop.
struct TimerQueue {
    private struct Entry {
        let deadline: UInt64
        let id: UInt64
    }

    private var heap: [Entry] = []
    private var callbacks: [UInt64: () -> Void] = [:]
    private var nextID: UInt64 = 1

    var isEmpty: Bool { callbacks.isEmpty }

    mutating func schedule(at deadline: UInt64, _ work: @escaping () -> Void) -> TimerHandle {
        let id = nextID
        nextID += 1
        callbacks[id] = work
        heap.append(Entry(deadline: deadline, id: id))
        siftUp(heap.count - 1)
        return TimerHandle(id: id)
    }

    mutating func cancel(_ handle: TimerHandle) {
        callbacks[handle.id] = nil
        if callbacks.isEmpty { heap.removeAll(keepingCapacity: true) }
    }

    /// Milliseconds until the earliest live deadline (rounded up), or -1 when none is set.
    mutating func timeoutMilliseconds(now: UInt64) -> Int32 {
        while let first = heap.first, callbacks[first.id] == nil { popFirst() }
        guard let first = heap.first else { return -1 }
        if first.deadline <= now { return 0 }
        let milliseconds = (first.deadline - now + 999_999) / 1_000_000
        return Int32(min(milliseconds, 60_000))
    }

    /// Removes and returns every callback whose deadline has passed, earliest first. The caller runs them
    /// after this returns, so a callback may schedule or cancel timers.
    mutating func popExpired(now: UInt64) -> [() -> Void] {
        var expired: [() -> Void] = []
        while let first = heap.first, first.deadline <= now {
            popFirst()
            if let work = callbacks.removeValue(forKey: first.id) { expired.append(work) }
        }
        return expired
    }

    private mutating func popFirst() {
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            if heap[parent].deadline <= heap[child].deadline { return }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            if left >= heap.count { return }
            var smallest = left
            if left + 1 < heap.count && heap[left + 1].deadline < heap[left].deadline { smallest = left + 1 }
            if heap[parent].deadline <= heap[smallest].deadline { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
