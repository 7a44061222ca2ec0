import SkiffTestSupport
import Testing

@testable import SkiffStream

/// The log's index and a consumer's waiting deliveries against plain dictionaries, through long runs of the
/// operations a queue makes (appends in order, deletions mostly from the front, some anywhere).
@Suite("Sequence index and pending deliveries")
struct SequenceIndexTests {
    @Test(arguments: [1, 2, 3])
    func theIndexAnswersAsADictionaryWould(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var index = SequenceIndex<Int>()
        var model: [UInt64: Int] = [:]
        var next: UInt64 = UInt64.random(in: 1...1_000, using: &random)
        for step in 0..<20_000 {
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<5:
                index[next] = step
                model[next] = step
                next += 1
            case 5..<8:
                if let first = model.keys.min() {
                    #expect(index.removeValue(forKey: first) == model.removeValue(forKey: first))
                }
            case 8:
                let any = UInt64.random(in: (next > 50 ? next - 50 : 0)...(next + 2), using: &random)
                #expect(index.removeValue(forKey: any) == model.removeValue(forKey: any))
            default:
                // A write below the window (never made by the log, but kept correct).
                if let first = model.keys.min(), first > 3 {
                    index[first - 3] = -step
                    model[first - 3] = -step
                }
            }
            if step % 97 == 0 {
                let sorted = model.keys.sorted()
                #expect(index.count == model.count)
                #expect(index.first == sorted.first && index.last == sorted.last)
                #expect(index.sequences == sorted)
                #expect(index.values == sorted.compactMap { model[$0] })
                let probe = UInt64.random(in: 0...(next + 3), using: &random)
                #expect(index.count(after: probe) == sorted.filter { $0 > probe }.count)
                #expect(index.sequence(after: probe) == sorted.first { $0 > probe })
                #expect(index[probe] == model[probe])
            }
        }
    }

    @Test func anEmptiedIndexStartsAgainAnywhere() {
        var index = SequenceIndex<String>()
        index[10] = "a"
        index.removeValue(forKey: 10)
        #expect(index.isEmpty && index.first == nil && index.count(after: 0) == 0 && index.sequence(after: 0) == nil)
        index[1_000_000] = "b"
        #expect(index.first == 1_000_000 && index.sequences == [1_000_000] && index[10] == nil)
    }

    @Test(arguments: [4, 5])
    func theFirstDeliveryToFallDueIsTheEarliest(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var pending = PendingDeliveries()
        var model: [UInt64: Int64] = [:]
        for step in 0..<20_000 {
            let sequence = UInt64.random(in: 1...300, using: &random)
            switch Int.random(in: 0..<4, using: &random) {
            case 0, 1:
                let deadline = Int64.random(in: 0...1_000, using: &random)
                pending[sequence] = StreamConsumer.Pending(deliveries: 1, deadline: deadline)
                model[sequence] = deadline
            case 2:
                pending[sequence]?.deadline = Int64(step)
                if model[sequence] != nil { model[sequence] = Int64(step) }
            default:
                #expect((pending.removeValue(forKey: sequence) != nil) == (model.removeValue(forKey: sequence) != nil))
            }
            let expected = model.min { ($0.value, $0.key) < ($1.value, $1.key) }
            let first = pending.first()
            #expect(first?.sequence == expected?.key && first?.pending.deadline == expected?.value)
            #expect(pending.count == model.count)
        }
    }
}
