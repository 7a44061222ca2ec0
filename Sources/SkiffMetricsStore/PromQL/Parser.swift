/// PromQL text to an ``PromQLExpression``, with Prometheus 2.42's grammar and its checks of types and arguments.
public enum PromQLParser {
    public static func parse(_ query: String) throws(PromQLError) -> PromQLExpression {
        var parser = Parser(tokens: try Lexer.tokens(query))
        let expression = try parser.expression()
        guard parser.peek.kind == .end else { throw parser.unexpected(parser.peek) }
        return expression
    }

    /// A series selector as `match[]` gives one (`name{label="value"}`): its matchers, which may all match the
    /// empty string (the API refuses that itself, in its own words).
    public static func parseSelector(_ text: String) throws(PromQLError) -> [LabelMatcher] {
        var parser = Parser(tokens: try Lexer.tokens(text))
        parser.requiresNonEmptyMatcher = false
        let expression = try parser.expression()
        guard parser.peek.kind == .end else { throw parser.unexpected(parser.peek) }
        guard case .vector(let selector) = expression else {
            throw PromQLError.parse(offset: 0, "expected a series selector such as name{label=\"value\"}")
        }
        return selector.matchers
    }
}

/// The parser proper: precedence climbing over the lexer's tokens; the type checks are in Parser+Types.swift.
struct Parser {
    let tokens: [Token]
    var index = 0
    /// How deep the tree being built is here: bounded while parsing (each nesting, each link of an operator chain,
    /// each subquery around another), because everything that walks the tree afterwards recurses, its release
    /// included; a query of a million `(` or `1+1+…` is refused instead of exhausting the stack.
    var depth = 0
    static let maximumDepth = 256
    /// Whether a selector must have a matcher that the empty string fails (queries: yes; `match[]`: the API says).
    var requiresNonEmptyMatcher = true

    var peek: Token { tokens[index] }

    /// What Prometheus's lexer says when the query ends inside a parenthesis, brace or bracket (the innermost).
    func unclosed() -> String? {
        var open: [Token.Kind] = []
        for token in tokens {
            switch token.kind {
            case .leftParen, .leftBrace, .leftBracket: open.append(token.kind)
            case .rightParen, .rightBrace, .rightBracket: _ = open.popLast()
            default: break
            }
        }
        switch open.last {
        case .leftParen: return "unclosed left parenthesis"
        case .leftBrace: return "unexpected end of input inside braces"
        case .leftBracket: return "unclosed left bracket"
        default: return nil
        }
    }

    mutating func advance() -> Token {
        defer { if index < tokens.count - 1 { index += 1 } }
        return tokens[index]
    }

    func unexpected(_ token: Token, expecting: String? = nil) -> PromQLError {
        if token.kind == .end, let message = unclosed() { return PromQLError.parse(offset: token.offset, message) }
        let what: String
        switch token.kind {
        case .end: what = "end of input"
        case .identifier(let word): what = "identifier \"\(word)\""
        case .number(let value): what = "number \"\(PromQLExpression.format(value))\""
        case .duration(let value): what = "duration \"\(PromQLExpression.duration(value))\""
        case .string(let text): what = "string \(PromQLExpression.quote(text))"
        case .symbol(let symbol): what = "\"\(symbol)\""
        default: what = "\(token.kind)"
        }
        return .parse(offset: token.offset, "unexpected \(what)" + (expecting.map { ", expected \($0)" } ?? ""))
    }

    mutating func expect(_ kind: Token.Kind, _ description: String) throws(PromQLError) {
        guard peek.kind == kind else { throw unexpected(peek, expecting: description) }
        index += 1
    }

    // MARK: Binary operators, by precedence

    /// Lowest first; `^` is the only right-associative one.
    static let precedence: [String: Int] = [
        "or": 1, "and": 2, "unless": 2, "==": 3, "!=": 3, "<": 3, ">": 3, "<=": 3, ">=": 3, "+": 4, "-": 4, "*": 5,
        "/": 5, "%": 5, "atan2": 5, "^": 6,
    ]

    func binaryOperator() -> String? {
        switch peek.kind {
        case .symbol(let symbol) where Self.precedence[symbol] != nil: return symbol
        case .identifier(let word) where ["or", "and", "unless", "atan2"].contains(word.lowercased()):
            return word.lowercased()
        default: return nil
        }
    }

    mutating func expression(_ minimum: Int = 1) throws(PromQLError) -> PromQLExpression {
        try deeper(at: peek)
        defer { depth -= 1 }
        let startOffset = peek.offset
        var lhs = try unary()
        var links = 0
        defer { depth -= links }
        while let op = binaryOperator(), let level = Self.precedence[op], level >= minimum {
            let start = advance()
            links += 1
            try deeper(at: start)
            var binary = Binary(op: op, lhs: lhs, rhs: .number(0))
            try modifiers(&binary, at: start)
            binary.rhs = try expression(op == "^" ? level : level + 1)
            lhs = .binary(binary)
            try check(lhs, at: startOffset)
        }
        return lhs
    }

    /// One level more, or the error once there are too many.
    mutating func deeper(at token: Token) throws(PromQLError) {
        depth += 1
        guard depth <= Self.maximumDepth else {
            throw PromQLError.parse(offset: token.offset, "the query nests deeper than \(Self.maximumDepth) levels")
        }
    }

    /// `bool`, `on(…)`/`ignoring(…)`, `group_left(…)`/`group_right(…)` after an operator.
    mutating func modifiers(_ binary: inout Binary, at start: Token) throws(PromQLError) {
        if case .identifier(let word) = peek.kind, word.lowercased() == "bool" {
            index += 1
            guard binary.isComparison else {
                throw PromQLError.parse(offset: start.offset, "bool modifier can only be used on comparison operators")
            }
            binary.returnsBool = true
        }
        if case .identifier(let word) = peek.kind, ["on", "ignoring"].contains(word.lowercased()) {
            index += 1
            binary.on = word.lowercased() == "on"
            binary.matching = try labelList()
            if case .identifier(let group) = peek.kind, ["group_left", "group_right"].contains(group.lowercased()) {
                index += 1
                binary.cardinality = group.lowercased() == "group_left" ? .manyToOne : .oneToMany
                if peek.kind == .leftParen { binary.include = try labelList() }
            }
        }
        if binary.isSetOperator { binary.cardinality = .manyToMany }
    }

    /// `(a, b, …)`, a trailing comma allowed.
    mutating func labelList() throws(PromQLError) -> [String] {
        try expect(.leftParen, "\"(\"")
        var names: [String] = []
        while true {
            if peek.kind == .rightParen {
                index += 1
                return names
            }
            guard case .identifier(let name) = peek.kind, !name.contains(":") else {
                throw unexpected(peek, expecting: "label")
            }
            index += 1
            names.append(name)
            if peek.kind == .comma {
                index += 1
            } else if peek.kind != .rightParen {
                throw unexpected(peek, expecting: "\",\" or \")\"")
            }
        }
    }

    // MARK: Unary, primary, postfix

    mutating func unary() throws(PromQLError) -> PromQLExpression {
        if case .symbol(let sign) = peek.kind, sign == "-" || sign == "+" {
            let signOffset = advance().offset
            // Binds less tightly than `^`: -2^2 is -(2^2).
            let operand = try expression(Self.precedence["^"] ?? 6)
            guard sign == "-" else { return operand }
            if case .number(let value) = operand { return .number(-value) }
            let negated = PromQLExpression.negate(operand)
            try check(negated, at: signOffset)
            return negated
        }
        let startOffset = peek.offset
        return try postfix(try primary(), startingAt: startOffset)
    }

    mutating func primary() throws(PromQLError) -> PromQLExpression {
        let token = advance()
        switch token.kind {
        case .number(let value): return .number(value)
        case .string(let text): return .string(text)
        case .leftParen:
            let inner = try expression()
            try expect(.rightParen, "\")\"")
            return .parenthesised(inner)
        case .leftBrace:
            let selector = PromQLExpression.vector(VectorSelector(name: nil, matchers: try matchers(afterBrace: token)))
            if requiresNonEmptyMatcher { try check(selector, at: token.offset) }
            return selector
        case .identifier(let word):
            if PromQLFunctions.aggregations.contains(word.lowercased()),
                peek.kind == .leftParen || isGroupingKeyword(peek)
            {
                return try aggregation(word.lowercased(), at: token)
            }
            if peek.kind == .leftParen {
                guard PromQLFunctions.all[word] != nil else {
                    throw PromQLError.parse(offset: token.offset, "unknown function with name \"\(word)\"")
                }
                index += 1
                let (arguments, offsets) = try self.arguments()
                let call = PromQLExpression.call(word, arguments)
                try check(call, at: token.offset, arguments: offsets)
                return call
            }
            if let keyword = ["bool", "on", "ignoring", "group_left", "group_right", "by", "without", "offset"]
                .first(where: { $0 == word.lowercased() })
            {
                throw PromQLError.parse(offset: token.offset, "unexpected keyword \"\(keyword)\"")
            }
            var matchers = [LabelMatcher.equal(Labels.metricName, word)]
            if peek.kind == .leftBrace {
                let brace = advance()
                matchers += try self.matchers(afterBrace: brace)
            }
            return .vector(VectorSelector(name: word, matchers: matchers))
        default:
            throw unexpected(token)
        }
    }

    func isGroupingKeyword(_ token: Token) -> Bool {
        if case .identifier(let word) = token.kind { return ["by", "without"].contains(word.lowercased()) }
        return false
    }

    /// `{name op "value", …}` after its opening brace.
    mutating func matchers(afterBrace brace: Token) throws(PromQLError) -> [LabelMatcher] {
        var matchers: [LabelMatcher] = []
        while peek.kind != .rightBrace {
            guard case .identifier(let name) = peek.kind, !name.contains(":") else {
                throw unexpected(peek, expecting: "label matching operator")
            }
            let nameOffset = peek.offset
            index += 1
            guard case .symbol(let symbol) = peek.kind,
                let kind = LabelMatcher.Kind(rawValue: symbol == "==" ? "" : symbol)
            else { throw unexpected(peek, expecting: "label matching operator") }
            index += 1
            guard case .string(let value) = peek.kind else { throw unexpected(peek, expecting: "string") }
            index += 1
            do {
                matchers.append(try LabelMatcher(name, kind, value))
            } catch {
                throw PromQLError.parse(offset: nameOffset, error.description)
            }
            if peek.kind == .comma {
                index += 1
            } else if peek.kind != .rightBrace {
                throw unexpected(peek, expecting: "\",\" or \"}\"")
            }
        }
        index += 1
        return matchers
    }

    /// A call's arguments and where each begins.
    mutating func arguments() throws(PromQLError) -> ([PromQLExpression], [Int]) {
        var arguments: [PromQLExpression] = []
        var offsets: [Int] = []
        while peek.kind != .rightParen {
            offsets.append(peek.offset)
            arguments.append(try expression())
            if peek.kind == .comma {
                index += 1
            } else if peek.kind != .rightParen {
                throw unexpected(peek, expecting: "\",\" or \")\"")
            }
        }
        index += 1
        return (arguments, offsets)
    }

    /// `sum by (a) (x)`, `sum(x) by (a)`, `topk(3, x)`.
    mutating func aggregation(_ op: String, at start: Token) throws(PromQLError) -> PromQLExpression {
        var grouping: [String] = []
        var without = false
        var grouped = false
        if case .identifier(let word) = peek.kind, isGroupingKeyword(peek) {
            index += 1
            without = word.lowercased() == "without"
            grouping = try labelList()
            grouped = true
        }
        try expect(.leftParen, "\"(\"")
        let (arguments, offsets) = try self.arguments()
        if !grouped, case .identifier(let word) = peek.kind, isGroupingKeyword(peek) {
            index += 1
            without = word.lowercased() == "without"
            grouping = try labelList()
        }
        let takesParameter = ["topk", "bottomk", "quantile", "count_values"].contains(op)
        guard arguments.count == (takesParameter ? 2 : 1) else {
            throw PromQLError.parse(
                offset: start.offset,
                takesParameter
                    ? "wrong number of arguments for aggregate expression provided, expected 2, got \(arguments.count)"
                    : "wrong number of arguments for aggregate expression provided, expected 1, got \(arguments.count)")
        }
        let aggregate = PromQLExpression.aggregate(
            Aggregation(
                op: op, expression: arguments[arguments.count - 1], parameter: takesParameter ? arguments[0] : nil,
                grouping: grouping, without: without))
        try check(aggregate, at: start.offset, arguments: offsets)
        return aggregate
    }

    /// `[range]`, `[range:step]`, `offset`, `@`, in any order Prometheus allows.
    mutating func postfix(_ base: PromQLExpression, startingAt startOffset: Int) throws(PromQLError)
        -> PromQLExpression
    {
        var expression = base
        var wraps = 0
        defer { depth -= wraps }
        while true {
            switch peek.kind {
            case .leftBracket:
                let bracket = advance()
                guard case .duration(let range) = peek.kind else { throw unexpected(peek, expecting: "duration") }
                index += 1
                if peek.kind == .colon {
                    index += 1
                    wraps += 1
                    try deeper(at: bracket)
                    var step: Int64 = 0
                    if case .duration(let given) = peek.kind {
                        step = given
                        index += 1
                    }
                    try expect(.rightBracket, "\"]\"")
                    expression = .subquery(expression, range: range, step: step, modifiers: TimeModifiers())
                    try check(expression, at: startOffset)
                } else {
                    try expect(.rightBracket, "\"]\"")
                    guard case .vector(let selector) = expression, selector.modifiers == TimeModifiers() else {
                        throw PromQLError.parse(
                            offset: bracket.offset,
                            "ranges only allowed for vector selectors")
                    }
                    expression = .matrix(selector, range: range)
                }
            case .identifier(let word) where word.lowercased() == "offset":
                let start = advance()
                var sign: Int64 = 1
                if case .symbol(let symbol) = peek.kind, symbol == "-" || symbol == "+" {
                    sign = symbol == "-" ? -1 : 1
                    index += 1
                }
                guard case .duration(let offset) = peek.kind else { throw unexpected(peek, expecting: "duration") }
                index += 1
                try modify(&expression, at: start) { modifiers throws(PromQLError) in
                    guard modifiers.offset == 0 else {
                        throw PromQLError.parse(offset: start.offset, "offset may not be set multiple times")
                    }
                    modifiers.offset = sign * offset
                }
            case .at:
                let start = advance()
                let at = try atValue()
                try modify(&expression, at: start) { modifiers throws(PromQLError) in
                    guard modifiers.at == nil else {
                        throw PromQLError.parse(offset: start.offset, "@ <timestamp> may not be set multiple times")
                    }
                    modifiers.at = at
                }
            default:
                return expression
            }
        }
    }

    mutating func atValue() throws(PromQLError) -> TimeModifiers.At {
        if case .identifier(let word) = peek.kind, ["start", "end"].contains(word.lowercased()) {
            index += 1
            try expect(.leftParen, "\"(\"")
            try expect(.rightParen, "\")\"")
            return word.lowercased() == "start" ? .start : .end
        }
        var sign = 1.0
        if case .symbol(let symbol) = peek.kind, symbol == "-" || symbol == "+" {
            sign = symbol == "-" ? -1 : 1
            index += 1
        }
        guard case .number(let seconds) = peek.kind else { throw unexpected(peek, expecting: "timestamp") }
        index += 1
        let milliseconds = (sign * seconds * 1_000).rounded()
        guard milliseconds.isFinite, abs(milliseconds) < 9.2e18 else {
            throw PromQLError.parse(offset: peek.offset, "timestamp out of bounds for @ modifier: \(seconds)")
        }
        return .time(Int64(milliseconds))
    }

    /// Applies `change` to the time modifiers of a selector or subquery; anything else cannot take them.
    func modify(
        _ expression: inout PromQLExpression, at start: Token,
        _ change: (inout TimeModifiers) throws(PromQLError) -> Void
    ) throws(PromQLError) {
        switch expression {
        case .vector(var selector):
            try change(&selector.modifiers)
            expression = .vector(selector)
        case .matrix(var selector, let range):
            try change(&selector.modifiers)
            expression = .matrix(selector, range: range)
        case .subquery(let inner, let range, let step, var modifiers):
            try change(&modifiers)
            expression = .subquery(inner, range: range, step: step, modifiers: modifiers)
        default:
            throw PromQLError.parse(
                offset: start.offset,
                "offset and @ modifiers must be preceded by an instant vector selector, a range "
                    + "vector selector, or a subquery")
        }
    }
}
