/// A regular expression with Go's RE2 syntax and guarantee: it always matches the whole text (as Prometheus
/// anchors its matchers), in time proportional to the text's length times the pattern's size, whatever either
/// holds. Swift's `Regex` backtracks, so a pattern such as `(a|a)*b` on a long value could keep a query's thread
/// busy for hours; here it cannot. Submatches follow Go's leftmost-first rule, for `label_replace`.
///
/// The pattern compiles to a program of instructions that a Pike VM runs: every thread advances one scalar at a
/// time, at most one thread per instruction, in priority order.
public struct RE2: Sendable {
    enum Instruction: Sendable {
        case scalar(Unicode.Scalar)
        case scalarFoldingCase(Unicode.Scalar)
        case set(RE2CharacterSet)
        /// Try `first`, then `second`.
        case split(Int, Int)
        case jump(Int)
        case save(Int)
        case assertion(RE2Assertion)
        case match
    }

    /// Instructions a pattern may compile to (Go bounds programs too): `(a{1000}){1000}` is refused.
    static let maximumInstructions = 100_000

    let program: [Instruction]
    /// Capturing groups (group 0, the whole match, not counted).
    public let groupCount: Int
    public let groupNames: [String: Int]
    /// Patterns answered without the VM: a plain string, and `.*` / `.+` (Grafana's "All"), as Prometheus's own
    /// matcher shortcuts them.
    private enum Shortcut: Sendable {
        case literal(String)
        /// Any text (at least `minimum` scalars), with or without newlines.
        case anything(minimum: Int, newlines: Bool)
    }

    private let shortcut: Shortcut?

    /// `pattern` as Prometheus compiles a matcher's or `label_replace`'s: `^(?:pattern)$` (errors quote that).
    public init(anchoring pattern: String) throws(RE2Error) {
        try self.init("^(?:" + pattern + ")$")
    }

    public init(_ pattern: String) throws(RE2Error) {
        var parser = RE2Parser(pattern)
        let tree = try parser.parse()
        groupCount = parser.captures
        groupNames = parser.names
        var compiler = Compiler()
        compiler.emit(.save(0))
        try compiler.compile(tree)
        compiler.emit(.save(1))
        compiler.emit(.match)
        program = compiler.program
        shortcut = Self.shortcut(tree)
    }

    private static func shortcut(_ node: RE2Node) -> Shortcut? {
        if let text = plainText(node) { return .literal(text) }
        var inner = node
        if case .concatenation(let items) = node, items.count == 3, items.first == .assertion(.beginText),
            items.last == .assertion(.endText)
        {
            inner = items[1]
        }
        guard case .repetition(.set(let set), let minimum, nil, _) = inner, minimum <= 1 else { return nil }
        if set == .any { return .anything(minimum: minimum, newlines: true) }
        if set == .anyButNewline { return .anything(minimum: minimum, newlines: false) }
        return nil
    }

    private static func plainText(_ node: RE2Node) -> String? {
        // The anchors around a whole pattern are what matching the whole text means anyway.
        if case .concatenation(let items) = node, items.count >= 2, items.first == .assertion(.beginText),
            items.last == .assertion(.endText)
        {
            let inner = Array(items.dropFirst().dropLast())
            return plainText(inner.count == 1 ? inner[0] : .concatenation(inner))
        }
        switch node {
        case .empty: return ""
        case .literal(let scalar, let fold) where !fold: return String(scalar)
        case .concatenation(let items):
            var text = ""
            for item in items {
                guard case .literal(let scalar, false) = item else { return nil }
                text.unicodeScalars.append(scalar)
            }
            return text
        default: return nil
        }
    }

    private struct Compiler {
        var program: [Instruction] = []

        mutating func emit(_ instruction: Instruction) { program.append(instruction) }

        mutating func compile(_ node: RE2Node) throws(RE2Error) {
            guard program.count <= RE2.maximumInstructions else {
                throw RE2Error(message: "expression too large")
            }
            switch node {
            case .empty: break
            case .literal(let scalar, let fold): emit(fold ? .scalarFoldingCase(scalar) : .scalar(scalar))
            case .set(let set): emit(.set(set))
            case .assertion(let assertion): emit(.assertion(assertion))
            case .capture(let inner, let index):
                emit(.save(2 * index))
                try compile(inner)
                emit(.save(2 * index + 1))
            case .concatenation(let items):
                for item in items { try compile(item) }
            case .alternation(let branches):
                // split L1, next; L1: branch; jump end; next: split …
                var jumps: [Int] = []
                for (number, branch) in branches.enumerated() {
                    if number < branches.count - 1 {
                        let split = program.count
                        emit(.split(split + 1, 0))
                        try compile(branch)
                        jumps.append(program.count)
                        emit(.jump(0))
                        program[split] = .split(split + 1, program.count)
                    } else {
                        try compile(branch)
                    }
                }
                for jump in jumps { program[jump] = .jump(program.count) }
            case .repetition(let inner, let minimum, let maximum, let greedy):
                for _ in 0..<minimum { try compile(inner) }
                if let maximum {
                    // Each optional copy: split into it or past all the rest.
                    var splits: [Int] = []
                    for _ in minimum..<maximum {
                        splits.append(program.count)
                        emit(.split(0, 0))
                        try compile(inner)
                    }
                    for split in splits {
                        program[split] = greedy ? .split(split + 1, program.count) : .split(program.count, split + 1)
                    }
                } else {
                    let loop = program.count
                    emit(.split(0, 0))
                    try compile(inner)
                    emit(.jump(loop))
                    program[loop] = greedy ? .split(loop + 1, program.count) : .split(program.count, loop + 1)
                }
            }
            guard program.count <= RE2.maximumInstructions else {
                throw RE2Error(message: "expression too large")
            }
        }
    }

    // MARK: Matching

    /// Whether the pattern matches all of `text`.
    public func matches(_ text: String) -> Bool {
        switch shortcut {
        case .literal(let literal): return text == literal
        case .anything(let minimum, let newlines):
            return (minimum == 0 || !text.isEmpty) && (newlines || !text.utf8.contains(UInt8(ascii: "\n")))
        case nil: return run(Array(text.unicodeScalars), captures: false) != nil
        }
    }

    /// The whole match's groups as scalar offsets into `text` (group 0 first), or nil when it does not match.
    public func wholeMatch(_ text: String) -> [Range<Int>?]? {
        let scalars = Array(text.unicodeScalars)
        guard let slots = run(scalars, captures: true) else { return nil }
        return (0...groupCount).map { group in
            let (start, end) = (slots[2 * group], slots[2 * group + 1])
            return start >= 0 && end >= start ? start..<end : nil
        }
    }

    private struct Thread {
        var pc: Int
        var slots: [Int]
    }

    /// The Pike VM: anchored at the start, accepting only at the end.
    private func run(_ text: [Unicode.Scalar], captures: Bool) -> [Int]? {
        let slotCount = captures ? 2 * (groupCount + 1) : 0
        var current: [Thread] = []
        var next: [Thread] = []
        var seen = [Int](repeating: -1, count: program.count)
        var stack: [Thread] = []
        var generation = 0
        add(
            Thread(pc: 0, slots: Array(repeating: -1, count: slotCount)), at: 0, text, &current, &seen, generation,
            &stack)
        var position = 0
        while true {
            if current.isEmpty { return nil }
            if position == text.count {
                for thread in current where isMatch(thread.pc) { return thread.slots }
                return nil
            }
            let scalar = text[position]
            generation += 1
            next.removeAll(keepingCapacity: true)
            for thread in current {
                let advances: Bool
                switch program[thread.pc] {
                case .scalar(let expected): advances = scalar == expected
                case .scalarFoldingCase(let expected):
                    advances = scalar == expected || RE2CharacterSet.otherCases(expected).contains(scalar)
                case .set(let set): advances = set.contains(scalar)
                default: advances = false
                }
                if advances {
                    add(
                        Thread(pc: thread.pc + 1, slots: thread.slots), at: position + 1, text, &next, &seen,
                        generation,
                        &stack)
                }
            }
            swap(&current, &next)
            position += 1
        }
    }

    private func isMatch(_ pc: Int) -> Bool {
        if case .match = program[pc] { return true }
        return false
    }

    /// Follows splits, jumps, saves and assertions from `start` (depth first, in priority order), adding every
    /// thread that waits on a scalar or is a match; an instruction already reached at this position is skipped.
    private func add(
        _ start: Thread, at position: Int, _ text: [Unicode.Scalar], _ list: inout [Thread], _ seen: inout [Int],
        _ generation: Int, _ stack: inout [Thread]
    ) {
        stack.append(start)
        while var thread = stack.popLast() {
            while true {
                if seen[thread.pc] == generation { break }
                seen[thread.pc] = generation
                switch program[thread.pc] {
                case .jump(let target):
                    thread.pc = target
                    continue
                case .split(let first, let second):
                    stack.append(Thread(pc: second, slots: thread.slots))
                    thread.pc = first
                    continue
                case .save(let slot):
                    if slot < thread.slots.count { thread.slots[slot] = position }
                    thread.pc += 1
                    continue
                case .assertion(let assertion):
                    guard Self.holds(assertion, at: position, text) else { break }
                    thread.pc += 1
                    continue
                case .scalar, .scalarFoldingCase, .set, .match:
                    list.append(thread)
                }
                break
            }
        }
    }

    private static func holds(_ assertion: RE2Assertion, at position: Int, _ text: [Unicode.Scalar]) -> Bool {
        switch assertion {
        case .beginText: return position == 0
        case .endText: return position == text.count
        case .beginLine: return position == 0 || text[position - 1] == "\n"
        case .endLine: return position == text.count || text[position] == "\n"
        case .wordBoundary, .notWordBoundary:
            let before = position > 0 && isWord(text[position - 1])
            let after = position < text.count && isWord(text[position])
            return (before != after) == (assertion == .wordBoundary)
        }
    }

    private static func isWord(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_")
    }
}
