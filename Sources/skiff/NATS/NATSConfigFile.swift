import SkiffAPI

/// Reads nats-server's configuration format, as far as a single broker needs: `key: value`, `key = value` or
/// `key value` entries separated by newlines, commas or semicolons; `#` and `//` comments; quoted or bare
/// values; `{ … }` blocks and `[ … ]` lists. Includes and variables are not supported and say so.
enum NATSConfigFile {
    enum Value: Equatable {
        case text(String)
        case block([String: Value])
        case list([Value])

        var text: String? {
            if case .text(let text) = self { return text }
            return nil
        }

        /// A whole number, with nats-server's size suffixes (KB, MB, GB; K, M, G).
        var integer: Int? {
            guard let text = text?.lowercased() else { return nil }
            let units: [(String, Int)] = [
                ("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10),
            ]
            for (suffix, factor) in units where text.hasSuffix(suffix) {
                return Int(text.dropLast(suffix.count)).map { $0 * factor }
            }
            return Int(text)
        }

        /// A Go duration ("2m", "1.5s"), or a whole number of seconds.
        var duration: Duration? {
            guard let text else { return nil }
            if let seconds = Double(text) { return .milliseconds(Int64(seconds * 1000)) }
            return try? GoDuration.parse(text, field: "duration")
        }
    }

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ text: String) throws -> [String: Value] {
        var reader = Reader(characters: Array(text))
        let entries = try reader.entries(until: nil)
        return entries
    }

    private struct Reader {
        let characters: [Character]
        var index = 0
        var line = 1

        mutating func entries(until closer: Character?) throws -> [String: Value] {
            var entries: [String: Value] = [:]
            while true {
                skipBlanks(newlines: true)
                guard index < characters.count else {
                    if let closer { throw fail("a block is not closed with \(closer)") }
                    return entries
                }
                if let closer, characters[index] == closer {
                    index += 1
                    return entries
                }
                let key = try word()
                if key == "include" { throw fail("include is not supported; write the settings into this file") }
                skipBlanks(newlines: false)
                if index < characters.count, characters[index] == ":" || characters[index] == "=" { index += 1 }
                skipBlanks(newlines: false)
                entries[key] = try value()
            }
        }

        mutating func value() throws -> Value {
            guard index < characters.count else { throw fail("a value is missing") }
            switch characters[index] {
            case "{":
                index += 1
                return .block(try entries(until: "}"))
            case "[":
                index += 1
                var items: [Value] = []
                while true {
                    skipBlanks(newlines: true)
                    guard index < characters.count else { throw fail("a list is not closed with ]") }
                    if characters[index] == "]" {
                        index += 1
                        return .list(items)
                    }
                    items.append(try value())
                }
            case "\"", "'":
                let quote = characters[index]
                index += 1
                var text = ""
                while index < characters.count, characters[index] != quote {
                    if characters[index] == "\\", index + 1 < characters.count {
                        index += 1
                    }
                    text.append(characters[index])
                    index += 1
                }
                guard index < characters.count else { throw fail("a quoted value is not closed") }
                index += 1
                return .text(text)
            default:
                var text = ""
                while index < characters.count, !"\n,;}]#".contains(characters[index]) {
                    text.append(characters[index])
                    index += 1
                }
                let value = text.trimmingSpaces()
                if value.hasPrefix("$") { throw fail("variables ($\(value.dropFirst())) are not supported") }
                return .text(value)
            }
        }

        mutating func word() throws -> String {
            if index < characters.count, characters[index] == "\"" || characters[index] == "'" {
                guard case .text(let text) = try value() else { throw fail("a key is missing") }
                return text
            }
            var text = ""
            while index < characters.count, !" \t\r\n:={[".contains(characters[index]) {
                text.append(characters[index])
                index += 1
            }
            guard !text.isEmpty else { throw fail("a key is missing") }
            return text
        }

        /// Spaces, tabs, comments and (with `newlines`) line ends, commas and semicolons.
        mutating func skipBlanks(newlines: Bool) {
            while index < characters.count {
                let character = characters[index]
                if character == "#"
                    || (character == "/" && index + 1 < characters.count && characters[index + 1] == "/")
                {
                    while index < characters.count, characters[index] != "\n" { index += 1 }
                } else if character == " " || character == "\t" || character == "\r" {
                    index += 1
                } else if newlines && (character == "\n" || character == "," || character == ";") {
                    if character == "\n" { line += 1 }
                    index += 1
                } else {
                    return
                }
            }
        }

        func fail(_ message: String) -> Invalid {
            Invalid(description: "line \(line): \(message)")
        }
    }
}
