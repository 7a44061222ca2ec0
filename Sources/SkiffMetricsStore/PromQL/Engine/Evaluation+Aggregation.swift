import Foundation

/// Aggregations, grouped by `by` or `without` labels, with Prometheus 2.42's arithmetic (the running mean and
/// variance it uses, its treatment of NaN and infinities).
extension Evaluation {
    func aggregate(_ aggregation: Aggregation, at time: Int64) throws(PromQLEvaluationError) -> [VectorElement] {
        let elements = try vector(try evaluate(aggregation.expression, at: time))
        var parameter: Double = 0
        var label = ""
        if let given = aggregation.parameter {
            switch try evaluate(given, at: time) {
            case .scalar(let value): parameter = value
            case .string(let text): label = text
            default: break
            }
        }
        if aggregation.op == "count_values" {
            guard Self.isValidLabelName(label) else { throw PromQLEvaluationError("invalid label name \"\(label)\"") }
        }
        // Groups in the order they are first seen.
        var order: [Labels] = []
        var groups: [Labels: [VectorElement]] = [:]
        for element in elements {
            var key = element.labels.grouping(aggregation.grouping, without: aggregation.without)
            if aggregation.op == "count_values" {
                key = key.setting(label, NumberText.plain(element.value))
            }
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(element)
        }
        var out: [VectorElement] = []
        for key in order {
            let members = groups[key] ?? []
            let values = members.map(\.value)
            switch aggregation.op {
            case "sum": out.append(VectorElement(labels: key, value: values.reduce(0, +)))
            case "avg": out.append(VectorElement(labels: key, value: Self.mean(values)))
            case "count", "count_values": out.append(VectorElement(labels: key, value: Double(values.count)))
            case "group": out.append(VectorElement(labels: key, value: 1))
            case "min":
                out.append(
                    VectorElement(
                        labels: key, value: values.dropFirst().reduce(values[0]) { $0 > $1 || $0.isNaN ? $1 : $0 }))
            case "max":
                out.append(
                    VectorElement(
                        labels: key, value: values.dropFirst().reduce(values[0]) { $0 < $1 || $0.isNaN ? $1 : $0 }))
            case "stddev": out.append(VectorElement(labels: key, value: Self.variance(values).squareRoot()))
            case "stdvar": out.append(VectorElement(labels: key, value: Self.variance(values)))
            case "quantile": out.append(VectorElement(labels: key, value: Self.quantile(parameter, values)))
            case "topk", "bottomk":
                let k = Int(
                    parameter.isFinite
                        ? max(0, min(parameter, Double(Int32.max))) : (parameter > 0 ? Double(Int32.max) : 0))
                let top = aggregation.op == "topk"
                // Which of equal values are kept is Prometheus's heap's choice; the same heap makes the same one.
                let kept = Self.selectBest(members, k: k, top: top)
                out += kept.enumerated().sorted { a, b in
                    let (x, y) = (a.element.value, b.element.value)
                    if x.isNaN != y.isNaN { return y.isNaN }
                    if x != y { return top ? x > y : x < y }
                    return a.offset < b.offset
                }.map(\.element)
            default:
                throw PromQLEvaluationError("unknown aggregation \"\(aggregation.op)\"")
            }
        }
        return out
    }

    /// The `k` largest (or smallest) elements as Prometheus 2.42 picks them: a heap of `k` with the worst kept on
    /// top (NaN counts as the worst), an element replacing the top only when strictly better. Go's
    /// `container/heap` operations, so that ties fall the same way.
    static func selectBest(_ elements: [VectorElement], k: Int, top: Bool) -> [VectorElement] {
        guard k >= 1, let first = elements.first else { return [] }
        var heap = [first]
        // The heap's order: the element to drop first on top.
        func less(_ i: Int, _ j: Int) -> Bool {
            if heap[i].value.isNaN { return true }
            return top ? heap[i].value < heap[j].value : heap[i].value > heap[j].value
        }
        func up(_ start: Int) {
            var child = start
            while child > 0 {
                let parent = (child - 1) / 2
                guard less(child, parent) else { break }
                heap.swapAt(child, parent)
                child = parent
            }
        }
        func down(_ start: Int) -> Bool {
            var parent = start
            while true {
                let left = 2 * parent + 1
                guard left < heap.count else { break }
                var child = left
                if left + 1 < heap.count && less(left + 1, left) { child = left + 1 }
                guard less(child, parent) else { break }
                heap.swapAt(parent, child)
                parent = child
            }
            return parent > start
        }
        for element in elements.dropFirst() {
            if heap.count < k {
                heap.append(element)
                up(heap.count - 1)
                continue
            }
            let worst = heap[0].value
            let better = top ? worst < element.value : worst > element.value
            guard better || (worst.isNaN && !element.value.isNaN) else { continue }
            heap[0] = element
            if k > 1 && !down(0) { up(0) }
        }
        return heap
    }

    /// Prometheus's running mean: each value divides before it adds (no overflow), infinities stay put.
    static func mean(_ values: [Double]) -> Double {
        var mean = values[0]
        var count = 1.0
        for value in values.dropFirst() {
            count += 1
            if mean.isInfinite {
                if value.isInfinite && (mean > 0) == (value > 0) { continue }
                if !value.isInfinite && !value.isNaN { continue }
            }
            mean += value / count - mean / count
        }
        return mean
    }

    /// Welford's running variance (population), as Prometheus computes it.
    static func variance(_ values: [Double]) -> Double {
        var mean = values[0]
        var sum = 0.0
        var count = 1.0
        for value in values.dropFirst() {
            count += 1
            let delta = value - mean
            mean += delta / count
            sum += delta * (value - mean)
        }
        return sum / count
    }

    /// φ-quantile with linear interpolation between the closest ranks.
    static func quantile(_ phi: Double, _ values: [Double]) -> Double {
        guard !values.isEmpty, !phi.isNaN else { return .nan }
        if phi < 0 { return -.infinity }
        if phi > 1 { return .infinity }
        let sorted = values.sorted()
        let rank = phi * Double(sorted.count - 1)
        let lower = max(0, Int(rank.rounded(.down)))
        let upper = min(sorted.count - 1, lower + 1)
        let weight = rank - rank.rounded(.down)
        return sorted[lower] * (1 - weight) + sorted[upper] * weight
    }

    static func isValidLabelName(_ name: String) -> Bool {
        guard let first = name.utf8.first, Lexer.isIdentifierStart(first) else { return false }
        return name.utf8.allSatisfy(Lexer.isWordPart)
    }
}
