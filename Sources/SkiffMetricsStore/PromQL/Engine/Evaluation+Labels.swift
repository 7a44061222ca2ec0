/// `label_replace`, `label_join` and `histogram_quantile`: the functions that work on labels.
extension Evaluation {
    func labelReplace(_ elements: [VectorElement], _ values: [PromQLValue]) throws(PromQLEvaluationError)
        -> [VectorElement]
    {
        guard case .string(let destination) = values[1], case .string(let replacement) = values[2],
            case .string(let source) = values[3], case .string(let pattern) = values[4]
        else { throw PromQLEvaluationError("label_replace takes strings") }
        let regex: RE2
        do {
            regex = try RE2(anchoring: pattern)
        } catch {
            throw PromQLEvaluationError("invalid regular expression in label_replace(): \(pattern)")
        }
        guard Self.isValidLabelName(destination) else {
            throw PromQLEvaluationError("invalid destination label name in label_replace(): \(destination)")
        }
        var out: [VectorElement] = []
        var seen: Set<Labels> = []
        for element in elements {
            var labels = element.labels
            let value = element.labels[source] ?? ""
            if let groups = regex.wholeMatch(value) {
                labels = labels.setting(destination, Self.expand(replacement, value, groups, regex.groupNames))
            }
            guard seen.insert(labels).inserted else {
                throw PromQLEvaluationError("vector cannot contain metrics with the same labelset")
            }
            out.append(VectorElement(labels: labels, value: element.value, sampleTime: element.sampleTime))
        }
        return out
    }

    /// `$1`, `${1}`, `$name`: the groups of the match (scalar offsets into `value`), as Go's `Regexp.Expand`.
    static func expand(
        _ template: String, _ value: String, _ groups: [Range<Int>?], _ names: [String: Int]
    ) -> String {
        let scalars = Array(value.unicodeScalars)
        func group(_ number: Int) -> String? {
            guard number < groups.count, let range = groups[number] else { return nil }
            return String(String.UnicodeScalarView(scalars[range]))
        }
        var out = ""
        var characters = Substring(template)
        while let dollar = characters.firstIndex(of: "$") {
            out += characters[..<dollar]
            characters = characters[characters.index(after: dollar)...]
            if characters.first == "$" {
                out += "$"
                characters = characters.dropFirst()
                continue
            }
            var name: Substring
            if characters.first == "{", let close = characters.firstIndex(of: "}") {
                name = characters[characters.index(after: characters.startIndex)..<close]
                characters = characters[characters.index(after: close)...]
            } else {
                name = characters.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
                characters = characters.dropFirst(name.count)
            }
            guard !name.isEmpty else {
                out += "$"
                continue
            }
            if let number = Int(name) {
                if let text = group(number) { out += text }
            } else if let number = names[String(name)], let text = group(number) {
                out += text
            }
        }
        return out + characters
    }

    func labelJoin(_ elements: [VectorElement], _ values: [PromQLValue]) throws(PromQLEvaluationError)
        -> [VectorElement]
    {
        var strings: [String] = []
        for value in values.dropFirst() {
            guard case .string(let text) = value else { throw PromQLEvaluationError("label_join takes strings") }
            strings.append(text)
        }
        let (destination, separator, sources) = (strings[0], strings[1], strings.dropFirst(2))
        guard Self.isValidLabelName(destination) else {
            throw PromQLEvaluationError("invalid destination label name in label_join(): \(destination)")
        }
        return elements.map { element in
            let joined = sources.map { element.labels[$0] ?? "" }.joined(separator: separator)
            return VectorElement(labels: element.labels.setting(destination, joined), value: element.value)
        }
    }

    /// The φ-quantile of classic histograms: buckets grouped by every label but `le` (the name included, so two
    /// histograms of different names are two groups), reported without `le` and the name.
    static func histogramQuantile(_ phi: Double, _ elements: [VectorElement]) -> [VectorElement] {
        var order: [Labels] = []
        var groups: [Labels: [(bound: Double, count: Double)]] = [:]
        for element in elements {
            guard let text = element.labels["le"], let bound = parseBound(text) else { continue }
            let key = Labels(element.labels.labels.filter { $0.name != "le" }.map { ($0.name, $0.value) })
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append((bound, element.value))
        }
        return order.map { key in
            VectorElement(labels: key.droppingName, value: bucketQuantile(phi, groups[key] ?? []))
        }
    }

    static func parseBound(_ text: String) -> Double? {
        switch text.lowercased() {
        case "+inf", "inf": return .infinity
        case "-inf": return -.infinity
        case "nan": return .nan
        default: return Double(text)
        }
    }

    static func bucketQuantile(_ phi: Double, _ given: [(bound: Double, count: Double)]) -> Double {
        if phi.isNaN { return .nan }
        if phi < 0 { return -.infinity }
        if phi > 1 { return .infinity }
        var buckets = given.sorted { $0.bound < $1.bound }
        guard buckets.count >= 2, buckets[buckets.count - 1].bound == .infinity else { return .nan }
        // Equal bounds merged (their counts added), then counts forced to rise.
        var merged: [(bound: Double, count: Double)] = []
        for bucket in buckets {
            if let last = merged.last, last.bound == bucket.bound {
                merged[merged.count - 1].count += bucket.count
            } else {
                merged.append(bucket)
            }
        }
        buckets = merged
        var highest = -Double.infinity
        for index in buckets.indices {
            highest = max(highest, buckets[index].count)
            buckets[index].count = highest
        }
        guard buckets.count >= 2 else { return .nan }
        let total = buckets[buckets.count - 1].count
        guard total > 0, !total.isNaN else { return .nan }
        let rank = phi * total
        let index = buckets.firstIndex { $0.count >= rank } ?? buckets.count - 1
        if index == buckets.count - 1 { return buckets[buckets.count - 2].bound }
        if index == 0 && buckets[0].bound <= 0 { return buckets[0].bound }
        let lower = index > 0 ? buckets[index - 1].bound : 0
        let below = index > 0 ? buckets[index - 1].count : 0
        let count = buckets[index].count - below
        return lower + (buckets[index].bound - lower) * ((rank - below) / count)
    }
}
