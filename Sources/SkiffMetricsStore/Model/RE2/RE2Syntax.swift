/// A regular expression in Go's RE2 syntax (what Prometheus's matchers and `label_replace` take), parsed to a
/// tree: literals, classes, anchors, groups, alternation and bounded repetition. There are no backreferences or
/// lookarounds, which is what lets ``RE2`` match in time linear in the text. Errors use Go's words.
indirect enum RE2Node: Equatable {
    case empty
    case literal(Unicode.Scalar, foldCase: Bool)
    case set(RE2CharacterSet)
    case assertion(RE2Assertion)
    case capture(RE2Node, index: Int)
    case concatenation([RE2Node])
    case alternation([RE2Node])
    case repetition(RE2Node, min: Int, max: Int?, greedy: Bool)
}

enum RE2Assertion: Equatable {
    case beginText, endText, beginLine, endLine, wordBoundary, notWordBoundary
}

/// Scalars as sorted, closed ranges; `negated` inverts it; `foldCase` also accepts a scalar whose other case is in.
struct RE2CharacterSet: Equatable {
    var ranges: [ClosedRange<UInt32>] = []
    var negated = false
    var foldCase = false

    static let any = RE2CharacterSet(ranges: [0...0x10FFFF])
    static let anyButNewline = RE2CharacterSet(ranges: [0...9, 11...0x10FFFF])

    func contains(_ scalar: Unicode.Scalar) -> Bool {
        var found = Self.search(ranges, scalar.value)
        if !found, foldCase {
            for other in Self.otherCases(scalar) where Self.search(ranges, other.value) {
                found = true
                break
            }
        }
        return found != negated
    }

    private static func search(_ ranges: [ClosedRange<UInt32>], _ value: UInt32) -> Bool {
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < value {
                low = middle + 1
            } else if ranges[middle].lowerBound > value {
                high = middle
            } else {
                return true
            }
        }
        return false
    }

    static func otherCases(_ scalar: Unicode.Scalar) -> [Unicode.Scalar] {
        var others: [Unicode.Scalar] = []
        for text in [scalar.properties.lowercaseMapping, scalar.properties.uppercaseMapping] {
            let scalars = text.unicodeScalars
            if scalars.count == 1, let other = scalars.first, other != scalar { others.append(other) }
        }
        return others
    }

    /// Sorted and merged, so that lookup can search.
    mutating func normalise() {
        let sorted = ranges.sorted { $0.lowerBound < $1.lowerBound }
        var merged: [ClosedRange<UInt32>] = []
        for range in sorted {
            if let last = merged.last, range.lowerBound <= last.upperBound &+ 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        ranges = merged
    }
}

public struct RE2Error: Error, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { "error parsing regexp: \(message)" }
}

/// Go's `regexp/syntax` parser, for the Perl flags Go uses (`(?i)`, `(?m)`, `(?s)`, `(?U)`, Perl classes,
/// `\pN`-style categories, `\Q…\E`).
struct RE2Parser {
    struct Flags {
        var foldCase = false
        var multiLine = false
        var dotAll = false
        var ungreedy = false
    }

    /// Go's limit on a counted repetition.
    static let maximumRepeat = 1_000

    private let scalars: [Unicode.Scalar]
    private var position = 0
    private var flags = Flags()
    private(set) var captures = 0
    private(set) var names: [String: Int] = [:]
    private var depth = 0

    init(_ pattern: String) { scalars = Array(pattern.unicodeScalars) }

    mutating func parse() throws(RE2Error) -> RE2Node {
        let node = try alternation()
        if position < scalars.count {
            throw RE2Error(message: "unexpected ): `\(String(String.UnicodeScalarView(scalars)))`")
        }
        return node
    }

    private var atEnd: Bool { position >= scalars.count }
    private var peek: Unicode.Scalar? { atEnd ? nil : scalars[position] }

    private func text(from start: Int) -> String {
        String(String.UnicodeScalarView(scalars[start..<min(position, scalars.count)]))
    }

    private mutating func alternation() throws(RE2Error) -> RE2Node {
        depth += 1
        defer { depth -= 1 }
        guard depth <= 1_000 else { throw RE2Error(message: "expression nests too deeply") }
        var branches = [try concatenation()]
        while peek == "|" {
            position += 1
            branches.append(try concatenation())
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    private mutating func concatenation() throws(RE2Error) -> RE2Node {
        var items: [RE2Node] = []
        let saved = flags
        defer { flags = saved }
        while let next = peek, next != "|", next != ")" {
            if let flagged = try flagGroupWithoutBody() {
                flags = flagged
                continue
            }
            let atom = try self.atom()
            items.append(try repetitions(of: atom))
        }
        if items.isEmpty { return .empty }
        return items.count == 1 ? items[0] : .concatenation(items)
    }

    /// `(?i)` and the like change the flags until the end of the enclosing group.
    private mutating func flagGroupWithoutBody() throws(RE2Error) -> Flags? {
        guard peek == "(", position + 1 < scalars.count, scalars[position + 1] == "?" else { return nil }
        var index = position + 2
        var result = flags
        var negate = false
        var any = false
        while index < scalars.count {
            switch scalars[index] {
            case "i": result.foldCase = !negate
            case "m": result.multiLine = !negate
            case "s": result.dotAll = !negate
            case "U": result.ungreedy = !negate
            case "-":
                guard !negate else { return nil }
                negate = true
                any = false
                index += 1
                continue
            case ")":
                guard any else { return nil }
                position = index + 1
                return result
            default: return nil
            }
            any = true
            index += 1
        }
        return nil
    }

    private mutating func repetitions(of atom: RE2Node) throws(RE2Error) -> RE2Node {
        var node = atom
        var repeated = false
        while let next = peek {
            let start = position
            var minimum = 0
            var maximum: Int?
            switch next {
            case "*": position += 1
            case "+":
                position += 1
                minimum = 1
            case "?":
                position += 1
                maximum = 1
            case "{":
                guard let (low, high) = counted() else { return node }
                guard low <= Self.maximumRepeat, (high ?? low) <= Self.maximumRepeat, (high ?? low) >= low else {
                    throw RE2Error(message: "invalid repeat count: `\(text(from: start))`")
                }
                minimum = low
                maximum = high
            default:
                return node
            }
            var greedy = true
            if peek == "?" {
                position += 1
                greedy = false
            }
            if flags.ungreedy { greedy.toggle() }
            if repeated {
                throw RE2Error(message: "invalid nested repetition operator: `\(text(from: start - 1))`")
            }
            if case .empty = node {
                throw RE2Error(message: "missing argument to repetition operator: `\(text(from: start))`")
            }
            node = .repetition(node, min: minimum, max: maximum, greedy: greedy)
            repeated = true
        }
        return node
    }

    /// `{n}`, `{n,}`, `{n,m}`; nil (and nothing consumed) when the brace is not one: then it is a literal.
    private mutating func counted() -> (Int, Int?)? {
        var index = position + 1
        func number() -> Int? {
            let start = index
            var value = 0
            while index < scalars.count, let digit = Int(String(scalars[index])), scalars[index].isASCII {
                value = min(value * 10 + digit, 100_000)
                index += 1
            }
            return index > start ? value : nil
        }
        guard let low = number() else { return nil }
        var high: Int? = low
        if index < scalars.count, scalars[index] == "," {
            index += 1
            high = number()
        }
        guard index < scalars.count, scalars[index] == "}" else { return nil }
        position = index + 1
        return (low, high)
    }

    private mutating func atom() throws(RE2Error) -> RE2Node {
        guard let next = peek else { return .empty }
        let start = position
        switch next {
        case "(":
            position += 1
            return try group(start: start)
        case "[":
            position += 1
            return .set(try characterClass(start: start))
        case ".":
            position += 1
            return .set(flags.dotAll ? .any : .anyButNewline)
        case "^":
            position += 1
            return .assertion(flags.multiLine ? .beginLine : .beginText)
        case "$":
            position += 1
            return .assertion(flags.multiLine ? .endLine : .endText)
        case "*", "+", "?":
            throw RE2Error(message: "missing argument to repetition operator: `\(next)`")
        case "{":
            if counted() != nil {
                position = start
                throw RE2Error(message: "missing argument to repetition operator: `\(text(from: start))`")
            }
            position += 1
            return .literal("{", foldCase: false)
        case "\\":
            return try escape()
        default:
            position += 1
            return literal(next)
        }
    }

    private func literal(_ scalar: Unicode.Scalar) -> RE2Node {
        .literal(scalar, foldCase: flags.foldCase && !RE2CharacterSet.otherCases(scalar).isEmpty)
    }

    private mutating func group(start: Int) throws(RE2Error) -> RE2Node {
        let saved = flags
        defer { flags = saved }
        var captureIndex: Int?
        if peek == "?" {
            position += 1
            if peek == "P" || peek == "<" {
                if peek == "P" { position += 1 }
                guard peek == "<" else {
                    throw RE2Error(message: "invalid or unsupported Perl syntax: `\(text(from: start))`")
                }
                position += 1
                let nameStart = position
                while let scalar = peek, scalar != ">" { position += 1 }
                let name = text(from: nameStart)
                guard peek == ">", !name.isEmpty,
                    name.unicodeScalars.allSatisfy({
                        $0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0)
                    })
                else {
                    throw RE2Error(message: "invalid named capture: `\(text(from: start))`")
                }
                position += 1
                guard names[name] == nil else {
                    throw RE2Error(message: "duplicate capture group name: `\(name)`")
                }
                captures += 1
                captureIndex = captures
                names[name] = captures
            } else {
                // `(?flags:…)`; `(?flags)` alone was taken by the concatenation.
                var negate = false
                while let scalar = peek, scalar != ":" {
                    switch scalar {
                    case "i": flags.foldCase = !negate
                    case "m": flags.multiLine = !negate
                    case "s": flags.dotAll = !negate
                    case "U": flags.ungreedy = !negate
                    case "-" where !negate: negate = true
                    default:
                        position += 1
                        throw RE2Error(message: "invalid or unsupported Perl syntax: `\(text(from: start))`")
                    }
                    position += 1
                }
                guard peek == ":" else { throw RE2Error(message: "missing closing ): `\(text(from: start))`") }
                position += 1
            }
        } else {
            captures += 1
            captureIndex = captures
        }
        let inner = try alternation()
        guard peek == ")" else {
            throw RE2Error(message: "missing closing ): `\(String(String.UnicodeScalarView(scalars)))`")
        }
        position += 1
        if let captureIndex { return .capture(inner, index: captureIndex) }
        return inner
    }

    // MARK: Escapes

    private mutating func escape() throws(RE2Error) -> RE2Node {
        let start = position
        position += 1
        guard let next = peek else { throw RE2Error(message: "trailing backslash at end of expression: ``") }
        position += 1
        switch next {
        case "A": return .assertion(.beginText)
        case "z": return .assertion(.endText)
        case "b": return .assertion(.wordBoundary)
        case "B": return .assertion(.notWordBoundary)
        case "Q":
            var items: [RE2Node] = []
            while !atEnd {
                if peek == "\\", position + 1 < scalars.count, scalars[position + 1] == "E" {
                    position += 2
                    break
                }
                items.append(literal(scalars[position]))
                position += 1
            }
            return items.isEmpty ? .empty : items.count == 1 ? items[0] : .concatenation(items)
        default:
            position = start
            if let set = try classEscape() { return .set(set) }
            let scalar = try scalarEscape()
            return literal(scalar)
        }
    }

    /// `\d`, `\s`, `\w` and their negations, `\pX`, `\p{Name}`, `\PX`; nil when the escape is not a class.
    private mutating func classEscape() throws(RE2Error) -> RE2CharacterSet? {
        let start = position
        guard peek == "\\", position + 1 < scalars.count else { return nil }
        let letter = scalars[position + 1]
        var set: RE2CharacterSet
        switch letter {
        case "d", "D": set = RE2CharacterSet(ranges: [0x30...0x39])
        case "s", "S": set = RE2CharacterSet(ranges: [0x09...0x0A, 0x0C...0x0D, 0x20...0x20])
        case "w", "W": set = RE2CharacterSet(ranges: [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A])
        case "p", "P":
            position += 2
            var name: String
            if peek == "{" {
                position += 1
                let nameStart = position
                while let scalar = peek, scalar != "}" { position += 1 }
                guard peek == "}" else {
                    throw RE2Error(message: "invalid character class range: `\(text(from: start))`")
                }
                name = text(from: nameStart)
                position += 1
            } else {
                guard let scalar = peek else {
                    throw RE2Error(message: "invalid character class range: `\(text(from: start))`")
                }
                name = String(scalar)
                position += 1
            }
            var negated = letter == "P"
            if name.hasPrefix("^") {
                negated.toggle()
                name.removeFirst()
            }
            guard var category = Self.unicodeCategory(name) else {
                throw RE2Error(message: "invalid character class range: `\(text(from: start))`")
            }
            category.negated = negated
            return category
        default:
            return nil
        }
        position += 2
        set.negated = letter.properties.isUppercase
        return set
    }

    /// A general category (`L`, `Lu`, `N`, `Nd`, `P`, …) or `Any`, as the scalars it holds.
    static func unicodeCategory(_ name: String) -> RE2CharacterSet? {
        if name == "Any" { return .any }
        let categories: [String: Set<Unicode.GeneralCategory>] = [
            "L": [.uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter],
            "Lu": [.uppercaseLetter], "Ll": [.lowercaseLetter], "Lt": [.titlecaseLetter], "Lm": [.modifierLetter],
            "Lo": [.otherLetter], "M": [.nonspacingMark, .spacingMark, .enclosingMark], "Mn": [.nonspacingMark],
            "N": [.decimalNumber, .letterNumber, .otherNumber], "Nd": [.decimalNumber], "Nl": [.letterNumber],
            "No": [.otherNumber],
            "P": [
                .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
                .finalPunctuation, .otherPunctuation,
            ],
            "S": [.mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol], "Sm": [.mathSymbol],
            "Sc": [.currencySymbol], "Z": [.spaceSeparator, .lineSeparator, .paragraphSeparator],
            "Zs": [.spaceSeparator], "C": [.control, .format, .privateUse, .surrogate, .unassigned], "Cc": [.control],
        ]
        guard let wanted = categories[name] else { return nil }
        var set = RE2CharacterSet()
        var runStart: UInt32?
        for value in UInt32(0)...0x10FFFF {
            let inside = Unicode.Scalar(value).map { wanted.contains($0.properties.generalCategory) } ?? false
            if inside, runStart == nil { runStart = value }
            if !inside, let first = runStart {
                set.ranges.append(first...(value - 1))
                runStart = nil
            }
        }
        if let first = runStart { set.ranges.append(first...0x10FFFF) }
        return set
    }

    /// One scalar written as an escape: `\n`, `\x41`, `\x{263a}`, octal, or escaped punctuation.
    private mutating func scalarEscape() throws(RE2Error) -> Unicode.Scalar {
        let start = position
        position += 1
        guard let next = peek else { throw RE2Error(message: "trailing backslash at end of expression: ``") }
        position += 1
        switch next {
        case "a": return "\u{07}"
        case "f": return "\u{0C}"
        case "t": return "\t"
        case "n": return "\n"
        case "r": return "\r"
        case "v": return "\u{0B}"
        case "x":
            var digits = ""
            if peek == "{" {
                position += 1
                while let scalar = peek, scalar != "}" {
                    digits.unicodeScalars.append(scalar)
                    position += 1
                }
                guard peek == "}" else { throw RE2Error(message: "invalid escape sequence: `\(text(from: start))`") }
                position += 1
            } else {
                for _ in 0..<2 {
                    guard let scalar = peek else { break }
                    digits.unicodeScalars.append(scalar)
                    position += 1
                }
            }
            guard !digits.isEmpty, digits.count <= 8, let value = UInt32(digits, radix: 16),
                let scalar = Unicode.Scalar(value)
            else { throw RE2Error(message: "invalid escape sequence: `\(text(from: start))`") }
            return scalar
        case "0"..."7":
            // A lone \1 … \7 would be a backreference, which RE2 does not have.
            guard next == "0" || (peek.map { ("0"..."7").contains($0) } ?? false) else {
                throw RE2Error(message: "invalid escape sequence: `\(text(from: start))`")
            }
            var value = next.value - 0x30
            for _ in 0..<2 {
                guard let scalar = peek, ("0"..."7").contains(scalar) else { break }
                value = value * 8 + scalar.value - 0x30
                position += 1
            }
            return Unicode.Scalar(value) ?? "\0"
        default:
            guard next.isASCII, !next.properties.isAlphabetic, !("0"..."9").contains(next) else {
                throw RE2Error(message: "invalid escape sequence: `\(text(from: start))`")
            }
            return next
        }
    }

    // MARK: Classes

    private mutating func characterClass(start: Int) throws(RE2Error) -> RE2CharacterSet {
        var set = RE2CharacterSet(foldCase: flags.foldCase)
        if peek == "^" {
            position += 1
            set.negated = true
        }
        var first = true
        while true {
            guard let next = peek else {
                throw RE2Error(message: "missing closing ]: `\(text(from: start))`")
            }
            if next == "]" && !first { break }
            first = false
            if next == "[", position + 1 < scalars.count, scalars[position + 1] == ":" {
                let nameStart = position
                if let close = (position..<scalars.count).first(where: {
                    $0 + 1 < scalars.count && scalars[$0] == ":" && scalars[$0 + 1] == "]" && $0 > position + 1
                }) {
                    var name = String(String.UnicodeScalarView(scalars[(position + 2)..<close]))
                    var negated = false
                    if name.hasPrefix("^") {
                        negated = true
                        name.removeFirst()
                    }
                    guard let ranges = Self.asciiClasses[name] else {
                        position = close + 2
                        throw RE2Error(message: "invalid character class range: `\(text(from: nameStart))`")
                    }
                    position = close + 2
                    set.ranges += negated ? Self.complement(ranges) : ranges
                    continue
                }
            }
            if next == "\\", let escaped = try classEscape() {
                var inner = escaped
                inner.normalise()
                set.ranges += inner.negated ? Self.complement(inner.ranges) : inner.ranges
                continue
            }
            let low = try classScalar()
            var high = low
            if peek == "-", position + 1 < scalars.count, scalars[position + 1] != "]" {
                position += 1
                let rangeStart = position - 2
                high = try classScalar()
                guard high.value >= low.value else {
                    throw RE2Error(message: "invalid character class range: `\(text(from: max(start, rangeStart)))`")
                }
            }
            set.ranges.append(low.value...high.value)
        }
        position += 1
        set.normalise()
        return set
    }

    private mutating func classScalar() throws(RE2Error) -> Unicode.Scalar {
        guard let next = peek else { throw RE2Error(message: "missing closing ]") }
        if next == "\\" { return try scalarEscape() }
        position += 1
        return next
    }

    static let asciiClasses: [String: [ClosedRange<UInt32>]] = [
        "alnum": [0x30...0x39, 0x41...0x5A, 0x61...0x7A], "alpha": [0x41...0x5A, 0x61...0x7A], "ascii": [0...0x7F],
        "blank": [0x09...0x09, 0x20...0x20], "cntrl": [0...0x1F, 0x7F...0x7F], "digit": [0x30...0x39],
        "graph": [0x21...0x7E], "lower": [0x61...0x7A], "print": [0x20...0x7E],
        "punct": [0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E], "space": [0x09...0x0D, 0x20...0x20],
        "upper": [0x41...0x5A], "word": [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A],
        "xdigit": [0x30...0x39, 0x41...0x46, 0x61...0x66],
    ]

    static func complement(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var set = RE2CharacterSet(ranges: ranges)
        set.normalise()
        var out: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for range in set.ranges {
            if range.lowerBound > next { out.append(next...(range.lowerBound - 1)) }
            next = range.upperBound &+ 1
            if range.upperBound == 0x10FFFF { return out }
        }
        out.append(next...0x10FFFF)
        return out
    }
}
