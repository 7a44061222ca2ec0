/// Values by message sequence, for sequences that are given out one after another and deleted mostly from the front
/// (a stream's log, a work queue's consumer): a window of slots from the lowest live sequence on, not a hash table.
///
/// A queue of a million calls made the hash table the log's largest cost: every growth rehashed it, and counting a
/// consumer's pending calls looked a thousand sequences up one by one. Here a look-up is an array access, growth
/// copies slots without hashing, and a run of sequences is scanned in order. Gaps (deleted sequences) cost a slot
/// each until the front of the window passes them.
struct SequenceIndex<Value> {
    /// `slots[i]` holds the value of sequence `base + i`.
    private var slots: [Value?] = []
    private var base: UInt64 = 0
    /// Leading slots known to be empty (dropped in bulk, so that deleting from the front stays O(1) amortised).
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    subscript(sequence: UInt64) -> Value? {
        get {
            guard let slot = slot(of: sequence) else { return nil }
            return slots[slot]
        }
        set {
            if let newValue {
                insert(newValue, at: sequence)
            } else {
                _ = removeValue(forKey: sequence)
            }
        }
    }

    @discardableResult
    mutating func removeValue(forKey sequence: UInt64) -> Value? {
        guard let slot = slot(of: sequence), let old = slots[slot] else { return nil }
        slots[slot] = nil
        count -= 1
        if count == 0 {
            slots.removeAll(keepingCapacity: slots.count <= 4096)
            head = 0
        } else if slot == head {
            advanceHead()
        }
        return old
    }

    /// The lowest sequence with a value.
    var first: UInt64? { isEmpty ? nil : base + UInt64(head) }

    /// The highest sequence with a value.
    var last: UInt64? {
        guard !isEmpty, let slot = slots.lastIndex(where: { $0 != nil }) else { return nil }
        return base + UInt64(slot)
    }

    /// The lowest sequence above `sequence` with a value.
    func sequence(after sequence: UInt64) -> UInt64? {
        guard let first else { return nil }
        guard sequence >= first else { return first }
        guard sequence - base < UInt64(slots.count) else { return nil }
        var slot = Int(sequence - base) + 1
        while slot < slots.count {
            if slots[slot] != nil { return base + UInt64(slot) }
            slot += 1
        }
        return nil
    }

    /// How many sequences above `sequence` have a value: counted from whichever end of the window is nearer.
    func count(after sequence: UInt64) -> Int {
        guard let first, sequence >= first else { return count }
        guard sequence - base < UInt64(slots.count) else { return 0 }
        let cut = Int(sequence - base)
        if cut - head < slots.count - cut {
            var atOrBelow = 0
            for slot in head...cut where slots[slot] != nil { atOrBelow += 1 }
            return count - atOrBelow
        }
        var above = 0
        for slot in (cut + 1)..<slots.count where slots[slot] != nil { above += 1 }
        return above
    }

    /// Every sequence with a value, in order.
    var sequences: [UInt64] {
        var all: [UInt64] = []
        all.reserveCapacity(count)
        for slot in head..<slots.count where slots[slot] != nil { all.append(base + UInt64(slot)) }
        return all
    }

    /// Every value, in the order of their sequences.
    var values: [Value] { slots[head...].compactMap { $0 } }

    private func slot(of sequence: UInt64) -> Int? {
        guard sequence >= base, sequence - base < UInt64(slots.count) else { return nil }
        return Int(sequence - base)
    }

    private mutating func insert(_ value: Value, at sequence: UInt64) {
        if slots.isEmpty {
            base = sequence
            head = 0
        } else if sequence < base {
            // Below the window (never in order-given sequences, but correct if it happens): the window grows down.
            let shift = Int(base - sequence)
            slots.insert(contentsOf: repeatElement(nil, count: shift), at: 0)
            base = sequence
            head += shift
        }
        let slot = Int(sequence - base)
        if slot >= slots.count {
            slots.append(contentsOf: repeatElement(nil, count: slot - slots.count + 1))
        }
        if slots[slot] == nil { count += 1 }
        slots[slot] = value
        if slot < head { head = slot }
    }

    /// Moves the head past empty slots, and drops them once they are half the window (each slot is moved at most
    /// once for every time the window doubles, so deleting from the front costs O(1) amortised).
    private mutating func advanceHead() {
        while head < slots.count && slots[head] == nil { head += 1 }
        if head >= 1024 && head * 2 >= slots.count {
            slots.removeFirst(head)
            base += UInt64(head)
            head = 0
        }
    }
}
