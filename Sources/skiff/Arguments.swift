import Foundation

/// A command's arguments: options (`--name value`, `--name=value`, `-n value`), switches and positionals. The
/// command declares what it takes, so an unknown option is a usage error instead of being silently ignored.
struct Arguments {
    struct Option {
        let names: [String]
        let value: String?
        let help: String

        /// An option with a value; `value` names it in the help (e.g. "NAME").
        static func value(_ names: String..., name value: String, help: String) -> Option {
            Option(names: names, value: value, help: help)
        }

        static func flag(_ names: String..., help: String) -> Option { Option(names: names, value: nil, help: help) }

        var canonical: String { names[0] }
    }

    private(set) var positionals: [String] = []
    private var values: [String: [String]] = [:]
    private var switches: Set<String> = []

    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    init(_ arguments: [String], options: [Option]) throws(UsageError) {
        var byName: [String: Option] = [:]
        for option in options { for name in option.names { byName[name] = option } }
        var index = 0
        var onlyPositionals = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if onlyPositionals || !argument.hasPrefix("-") || argument == "-" {
                positionals.append(argument)
                continue
            }
            if argument == "--" {
                onlyPositionals = true
                continue
            }
            var name = argument
            var inline: String?
            if let equals = argument.firstIndex(of: "="), argument.hasPrefix("--") {
                name = String(argument[..<equals])
                inline = String(argument[argument.index(after: equals)...])
            }
            guard let option = byName[name] else { throw UsageError(description: "unknown option \(name)") }
            if option.value == nil {
                if let inline {
                    guard let value = Bool(inline) else { throw UsageError(description: "\(name) takes no value") }
                    if value { switches.insert(option.canonical) } else { switches.remove(option.canonical) }
                } else {
                    switches.insert(option.canonical)
                }
                continue
            }
            if let inline {
                values[option.canonical, default: []].append(inline)
            } else {
                guard index < arguments.count else { throw UsageError(description: "\(name) needs a value") }
                values[option.canonical, default: []].append(arguments[index])
                index += 1
            }
        }
    }

    func value(_ name: String) -> String? { values[name]?.last }
    func values(_ name: String) -> [String] { values[name] ?? [] }
    func isSet(_ name: String) -> Bool { switches.contains(name) }

    /// `KEY=VALUE` options (env, labels, headers) as pairs; a missing `=` is a usage error.
    func pairs(_ name: String) throws(UsageError) -> [(String, String)] {
        var result: [(String, String)] = []
        for item in values(name) {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw UsageError(description: "\(name) \(item): write KEY=VALUE")
            }
            result.append((String(item[..<equals]), String(item[item.index(after: equals)...])))
        }
        return result
    }

    func integer(_ name: String) throws(UsageError) -> Int? {
        guard let text = value(name) else { return nil }
        guard let number = Int(text) else { throw UsageError(description: "\(name) \(text): expected a whole number") }
        return number
    }

    static func help(usage: String, summary: String, options: [Option]) -> String {
        var text = "usage: \(usage)\n\n\(summary)\n"
        if !options.isEmpty { text += "\noptions:\n" }
        let left = options.map { $0.names.joined(separator: ", ") + ($0.value.map { " \($0)" } ?? "") }
        // One column for every description: the widest option, then two spaces.
        let width = max(28, (left.map(\.count).max() ?? 0) + 2)
        for (names, option) in zip(left, options) {
            text += "  " + names.padding(toLength: width, withPad: " ", startingAt: 0) + option.help + "\n"
        }
        return text
    }
}
