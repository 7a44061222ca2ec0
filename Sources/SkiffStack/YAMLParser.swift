/// Reads the YAML subset that stack files and templates are written in, and rejects everything else with a line
/// and column, rather than guessing.
///
/// Accepted: block mappings and block sequences nested by spaces; `- key: value` items; plain, 'single' and
/// "double" quoted scalars on one line; flow sequences `[a, "b"]` and flow mappings `{a: 1}`; `#` comments; one
/// leading `---`. Rejected: tabs in indentation, anchors, aliases, tags, block scalars (`|`, `>`), multi-line
/// plain scalars, several documents, duplicate keys.
public struct YAMLParser {
    private struct Line {
        var number: Int
        var indent: Int
        var text: Substring
        var column: Int { indent + 1 }
    }

    private var lines: [Line] = []
    private var position = 0

    public static func parse(_ text: String) throws(YAMLError) -> YAMLValue {
        var parser = try YAMLParser(text)
        guard parser.position < parser.lines.count else { return .null }
        let value = try parser.block(indent: parser.lines[parser.position].indent)
        if parser.position < parser.lines.count {
            let line = parser.lines[parser.position]
            throw YAMLError(
                line: line.number, column: line.column,
                message: "this line is indented less than the first one; align it with its siblings")
        }
        return value
    }

    private init(_ text: String) throws(YAMLError) {
        var sawDocumentStart = false
        var sawContent = false
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var body = raw
            if body.last == "\r" { body = body.dropLast() }
            var indent = 0
            for character in body {
                if character == " " {
                    indent += 1
                } else if character == "\t" {
                    throw YAMLError(line: number, column: indent + 1, message: "tabs cannot indent YAML; use spaces")
                } else {
                    break
                }
            }
            let content = try Self.stripComment(body.dropFirst(indent), line: number, column: indent + 1)
            if content.isEmpty { continue }
            if indent == 0, content == "---" || content.hasPrefix("--- ") {
                if sawDocumentStart || sawContent {
                    throw YAMLError(line: number, column: 1, message: "only one YAML document per file is read")
                }
                sawDocumentStart = true
                if content != "---" {
                    throw YAMLError(line: number, column: 5, message: "start the content on the line after ---")
                }
                continue
            }
            if indent == 0, content == "..." || content.hasPrefix("%") {
                throw YAMLError(
                    line: number, column: 1, message: "YAML directives and document ends are not supported")
            }
            sawContent = true
            lines.append(Line(number: number, indent: indent, text: content))
        }
    }

    /// Drops a `#` comment (one at the start or after a space, outside quotes) and trailing spaces.
    private static func stripComment(_ text: Substring, line: Int, column: Int) throws(YAMLError) -> Substring {
        var quote: Character?
        var previous: Character = " "
        var end = text.endIndex
        for index in text.indices {
            let character = text[index]
            if let open = quote {
                if character == open && !(open == "\"" && previous == "\\") { quote = nil }
                previous = character == "\\" && previous == "\\" ? " " : character
                continue
            }
            if character == "#" && (previous == " " || index == text.startIndex) {
                end = index
                break
            }
            // A quote opens a quoted scalar only where a scalar starts: at the start, after ": ", "- ", "[", ",".
            if character == "\"" || character == "'",
                index == text.startIndex || [" ", "[", "{", ","].contains(previous)
            {
                quote = character
            }
            previous = character
        }
        var result = text[..<end]
        while result.last == " " { result = result.dropLast() }
        return result
    }

    private mutating func block(indent: Int) throws(YAMLError) -> YAMLValue {
        let line = lines[position]
        if Self.isSequenceItem(line.text) { return try sequence(indent: indent) }
        return try mapping(indent: indent)
    }

    private static func isSequenceItem(_ text: Substring) -> Bool { text == "-" || text.hasPrefix("- ") }

    private mutating func mapping(indent: Int) throws(YAMLError) -> YAMLValue {
        var pairs: [(key: String, value: YAMLValue)] = []
        while position < lines.count, lines[position].indent == indent {
            let line = lines[position]
            if Self.isSequenceItem(line.text) {
                throw YAMLError(
                    line: line.number, column: line.column,
                    message: "a list item where a key was expected; indent the list under its key")
            }
            guard let colon = Self.mappingColon(in: line.text) else {
                throw YAMLError(
                    line: line.number, column: line.column,
                    message: "expected `key: value`; multi-line values are not supported, write the value on one line")
            }
            let keyColumn = line.column
            let key = try scalarText(line.text[..<colon], line: line.number, column: keyColumn)
            if pairs.contains(where: { $0.key == key }) {
                throw YAMLError(line: line.number, column: keyColumn, message: "the key \"\(key)\" appears twice")
            }
            var rest = line.text[line.text.index(after: colon)...]
            while rest.first == " " { rest.removeFirst() }
            let restColumn = line.column + line.text.distance(from: line.text.startIndex, to: rest.startIndex)
            position += 1
            let value: YAMLValue
            if rest.isEmpty {
                value = try nested(under: indent, sequenceAtSameIndent: true)
            } else {
                value = try inline(rest, line: line.number, column: restColumn)
            }
            pairs.append((key, value))
        }
        if position < lines.count, lines[position].indent > indent {
            let line = lines[position]
            throw YAMLError(
                line: line.number, column: line.column,
                message: "unexpected indentation; multi-line values are not supported, write the value on one line")
        }
        return .mapping(pairs)
    }

    /// The value of `key:` with nothing after it: a deeper block, a list at the same indentation, or null.
    private mutating func nested(under indent: Int, sequenceAtSameIndent: Bool) throws(YAMLError) -> YAMLValue {
        guard position < lines.count else { return .null }
        let next = lines[position]
        if next.indent > indent { return try block(indent: next.indent) }
        if sequenceAtSameIndent, next.indent == indent, Self.isSequenceItem(next.text) {
            return try sequence(indent: indent)
        }
        return .null
    }

    private mutating func sequence(indent: Int) throws(YAMLError) -> YAMLValue {
        var items: [YAMLValue] = []
        while position < lines.count, lines[position].indent == indent, Self.isSequenceItem(lines[position].text) {
            let line = lines[position]
            var rest = line.text.dropFirst()
            while rest.first == " " { rest.removeFirst() }
            let offset = line.text.distance(from: line.text.startIndex, to: rest.startIndex)
            if rest.isEmpty {
                position += 1
                items.append(try nested(under: indent, sequenceAtSameIndent: false))
            } else if rest.first != "[", rest.first != "{", rest.first != "\"", rest.first != "'",
                Self.mappingColon(in: rest) != nil
            {
                // `- key: value` opens a mapping whose keys line up with `key`.
                lines[position] = Line(number: line.number, indent: indent + offset, text: rest)
                items.append(try mapping(indent: indent + offset))
            } else {
                position += 1
                items.append(try inline(rest, line: line.number, column: line.column + offset))
            }
        }
        return .sequence(items)
    }

    /// The `:` that ends a plain or quoted key: followed by a space or the end of the line, outside quotes.
    private static func mappingColon(in text: Substring) -> Substring.Index? {
        var index = text.startIndex
        if let quote = text.first, quote == "\"" || quote == "'" {
            index = text.index(after: index)
            while index < text.endIndex {
                if text[index] == "\\" && quote == "\"" {
                    index = text.index(after: index)
                } else if text[index] == quote {
                    break
                }
                if index < text.endIndex { index = text.index(after: index) }
            }
            guard index < text.endIndex else { return nil }
            index = text.index(after: index)
            return index < text.endIndex && text[index] == ":" && isEnd(text, after: index) ? index : nil
        }
        while index < text.endIndex {
            if text[index] == ":" && isEnd(text, after: index) { return index }
            index = text.index(after: index)
        }
        return nil
    }

    private static func isEnd(_ text: Substring, after index: Substring.Index) -> Bool {
        let next = text.index(after: index)
        return next == text.endIndex || text[next] == " "
    }

    private func inline(_ text: Substring, line: Int, column: Int) throws(YAMLError) -> YAMLValue {
        if text.first == "[" || text.first == "{" {
            var flow = FlowReader(text: text, line: line, column: column)
            let value = try flow.value()
            try flow.expectEnd()
            return value
        }
        if text == "~" || text == "null" || text == "Null" || text == "NULL" { return .null }
        return .scalar(try scalarText(text, line: line, column: column))
    }

    private func scalarText(_ text: Substring, line: Int, column: Int) throws(YAMLError) -> String {
        var reader = FlowReader(text: text, line: line, column: column)
        let value = try reader.scalar(stoppingAt: [])
        try reader.expectEnd()
        return value
    }
}

/// Scalars and flow collections inside one line.
private struct FlowReader {
    let text: Substring
    let line: Int
    let column: Int
    var index: Substring.Index

    init(text: Substring, line: Int, column: Int) {
        self.text = text
        self.line = line
        self.column = column
        index = text.startIndex
    }

    func error(_ message: String) -> YAMLError {
        YAMLError(line: line, column: column + text.distance(from: text.startIndex, to: index), message: message)
    }

    mutating func skipSpaces() {
        while index < text.endIndex, text[index] == " " { index = text.index(after: index) }
    }

    mutating func expectEnd() throws(YAMLError) {
        skipSpaces()
        if index < text.endIndex { throw error("unexpected text after the value; quote the whole value") }
    }

    /// A flow collection from its opener to `closer`: `item` reads each entry, and entries are separated by
    /// commas; `what` names the collection in errors.
    private mutating func flowCollection(
        closer: Character, what: String, _ item: (inout Self) throws(YAMLError) -> Void
    ) throws(YAMLError) {
        index = text.index(after: index)
        skipSpaces()
        if index < text.endIndex, text[index] == closer {
            index = text.index(after: index)
            return
        }
        while true {
            try item(&self)
            skipSpaces()
            guard index < text.endIndex else { throw error("this \(what) is not closed with \(closer)") }
            let separator = text[index]
            index = text.index(after: index)
            if separator == closer { return }
            if separator != "," { throw error("expected , or \(closer) in the \(what)") }
        }
    }

    mutating func value() throws(YAMLError) -> YAMLValue {
        skipSpaces()
        guard index < text.endIndex else { throw error("a value is missing") }
        switch text[index] {
        case "[":
            var items: [YAMLValue] = []
            try flowCollection(closer: "]", what: "list") { parser throws(YAMLError) in
                items.append(try parser.value())
            }
            return .sequence(items)
        case "{":
            var pairs: [(key: String, value: YAMLValue)] = []
            try flowCollection(closer: "}", what: "mapping") { parser throws(YAMLError) in
                parser.skipSpaces()
                let key = try parser.scalar(stoppingAt: [":", ",", "}"])
                guard parser.index < parser.text.endIndex, parser.text[parser.index] == ":" else {
                    throw parser.error("expected `key: value` here")
                }
                parser.index = parser.text.index(after: parser.index)
                if pairs.contains(where: { $0.key == key }) { throw parser.error("the key \"\(key)\" appears twice") }
                pairs.append((key, try parser.value()))
            }
            return .mapping(pairs)
        default:
            let start = index
            let scalar = try scalar(stoppingAt: [",", "]", "}"])
            if text[start] != "\"" && text[start] != "'" && ["~", "null"].contains(scalar) { return .null }
            return .scalar(scalar)
        }
    }

    mutating func scalar(stoppingAt stops: Set<Character>) throws(YAMLError) -> String {
        skipSpaces()
        guard index < text.endIndex else { return "" }
        let first = text[index]
        if first == "\"" || first == "'" { return try quoted(by: first) }
        if "&*!".contains(first) {
            throw error("anchors, aliases and tags (&, *, !) are not supported; write the value out")
        }
        if "|>".contains(first) {
            throw error("block scalars (| and >) are not supported; write the value on one line, quoted")
        }
        if "@`".contains(first) { throw error("\(first) cannot start a plain value; quote it") }
        let start = index
        while index < text.endIndex, !stops.contains(text[index]) { index = text.index(after: index) }
        var value = text[start..<index]
        while value.last == " " { value = value.dropLast() }
        return String(value)
    }

    /// A quoted scalar from its opening `quote`: inside `'…'` a doubled `''` stands for one quote; inside `"…"`
    /// backslash escapes apply.
    private mutating func quoted(by quote: Character) throws(YAMLError) -> String {
        let open = index
        index = text.index(after: index)
        var result = ""
        while index < text.endIndex {
            let character = text[index]
            index = text.index(after: index)
            if character == quote {
                guard quote == "'", index < text.endIndex, text[index] == "'" else { return result }
                index = text.index(after: index)
                result.append("'")
            } else if character == "\\" && quote == "\"" {
                try unescape(into: &result)
            } else {
                result.append(character)
            }
        }
        index = open
        throw error("this quoted value is not closed with \(quote)")
    }

    /// One escape after a backslash in a double-quoted scalar; at the end of the text it leaves the value
    /// unclosed.
    private mutating func unescape(into result: inout String) throws(YAMLError) {
        let backslash = text.index(before: index)
        guard index < text.endIndex else { return }
        let escape = text[index]
        index = text.index(after: index)
        switch escape {
        case "n": result.append("\n")
        case "t": result.append("\t")
        case "r": result.append("\r")
        case "0": result.append("\0")
        case "\"", "\\", "/", " ": result.append(escape)
        case "u", "x", "U":
            let width = escape == "x" ? 2 : escape == "u" ? 4 : 8
            var hex = ""
            for _ in 0..<width where index < text.endIndex {
                hex.append(text[index])
                index = text.index(after: index)
            }
            guard hex.count == width, let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
                index = backslash
                throw error("\\\(escape) needs \(width) hexadecimal digits naming a character")
            }
            result.unicodeScalars.append(scalar)
        default:
            index = backslash
            throw error("unknown escape \\\(escape) in a double-quoted value")
        }
    }
}
