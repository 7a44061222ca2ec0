/// A consumer's deliveries that wait for their ack, by stream sequence, and which of them falls due first.
///
/// The first to fall due is asked at every pull and at every turn of the worker; with a thousand deliveries held,
/// finding it by looking at all of them (and copying them to filter) was a large part of the worker's time. A heap
/// of deadlines answers at once. A changed or removed delivery leaves its old deadline in the heap; such entries
/// are recognised (the delivery's deadline is no longer theirs) and dropped when they reach the top, and the heap
/// is rebuilt when they outnumber the live ones.
struct PendingDeliveries {
    private(set) var entries: [UInt64: StreamConsumer.Pending] = [:]
    private var heap: [(deadline: Int64, sequence: UInt64)] = []

    var count: Int { entries.count }

    subscript(sequence: UInt64) -> StreamConsumer.Pending? {
        get { entries[sequence] }
        set {
            if let newValue {
                if entries.updateValue(newValue, forKey: sequence)?.deadline != newValue.deadline {
                    push((newValue.deadline, sequence))
                }
            } else {
                entries[sequence] = nil
            }
        }
    }

    @discardableResult
    mutating func removeValue(forKey sequence: UInt64) -> StreamConsumer.Pending? {
        entries.removeValue(forKey: sequence)
    }

    /// The delivery that falls due first, with its deadline.
    mutating func first() -> (sequence: UInt64, pending: StreamConsumer.Pending)? {
        while let top = heap.first {
            if isLive(top), let pending = entries[top.sequence] { return (top.sequence, pending) }
            popTop()
        }
        return nil
    }

    /// Whether a heap entry is still a delivery's deadline.
    private func isLive(_ entry: (deadline: Int64, sequence: UInt64)) -> Bool {
        entries[entry.sequence]?.deadline == entry.deadline
    }

    private mutating func push(_ entry: (deadline: Int64, sequence: UInt64)) {
        if heap.count >= 64 && heap.count > 2 * entries.count {
            // Mostly stale: rebuilt from the live deadlines, the new one among them (a sorted array is a heap).
            heap = entries.map { ($0.value.deadline, $0.key) }
            heap.sort { Self.precedes($0, $1) }
            return
        }
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count && Self.precedes(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count && Self.precedes(heap[right], heap[smallest]) { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }

    /// Earlier deadlines first; at the same deadline, the older message.
    private static func precedes(_ a: (deadline: Int64, sequence: UInt64), _ b: (deadline: Int64, sequence: UInt64))
        -> Bool
    {
        a.deadline != b.deadline ? a.deadline < b.deadline : a.sequence < b.sequence
    }
}
