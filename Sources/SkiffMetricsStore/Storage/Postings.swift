/// An inverted index: label name → value → the ascending ids of the series that carry that pair. The head and
/// every block answer selectors from one: the postings of each matcher that needs its label present are
/// intersected, and every matcher is then checked on what is left.
struct Postings {
    private(set) var lists: [String: [String: [UInt64]]] = [:]

    init() {}

    /// Lists read back from a block (already sorted).
    init(lists: [String: [String: [UInt64]]]) {
        self.lists = lists
    }

    mutating func add(_ id: UInt64, _ labels: Labels) {
        for label in labels.labels {
            // Ids are usually given in increasing order, so appending keeps each list sorted (in place: copying the
            // list out and back made every new series cost the length of its name's list); a replayed id may not.
            lists[label.name, default: [:]][label.value, default: []].append(id)
            if let list = lists[label.name]?[label.value], list.count > 1, list[list.count - 2] > id {
                lists[label.name]?[label.value]?.sort()
            }
        }
    }

    /// Ids that may match: the intersection of the postings of every matcher that needs its label present (each
    /// the union of the lists of the values it accepts); nil when no matcher needs one (every series may).
    func candidates(_ matchers: [LabelMatcher]) -> [UInt64]? {
        var result: [UInt64]?
        for matcher in matchers where !matcher.matchesEmpty {
            var union: [UInt64] = []
            if matcher.kind == .equal {
                union = lists[matcher.name]?[matcher.value] ?? []
            } else {
                for (value, list) in lists[matcher.name] ?? [:] where matcher.matches(value) { union += list }
                union.sort()
            }
            result = result.map { Self.intersect($0, union) } ?? union
            if result?.isEmpty == true { return [] }
        }
        return result
    }

    private static func intersect(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] {
        var common: [UInt64] = []
        var i = 0
        var j = 0
        while i < a.count && j < b.count {
            if a[i] == b[j] {
                common.append(a[i])
                i += 1
                j += 1
            } else if a[i] < b[j] {
                i += 1
            } else {
                j += 1
            }
        }
        return common
    }

    /// Every label name, sorted.
    var labelNames: [String] { lists.keys.sorted() }

    /// Every value of a label, sorted.
    func labelValues(_ name: String) -> [String] { (lists[name] ?? [:]).keys.sorted() }
}
