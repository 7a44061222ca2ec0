/// `${VAR}` and `${VAR:-default}` replaced from the environment across the whole file before it is parsed, as
/// faas-cli does; an unset variable without a default becomes empty. `$$` writes a literal `$`. Anything else
/// after `$` is left as it is.
public enum EnvironmentSubstitution {
    public struct Unterminated: Error, CustomStringConvertible {
        public let line: Int
        public var description: String { "line \(line): ${ is not closed with }" }
    }

    public static func apply(_ text: String, environment: [String: String]) throws(Unterminated) -> String {
        var output = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            output += rest[..<dollar]
            let after = rest[rest.index(after: dollar)...]
            if after.first == "$" {
                output += "$"
                rest = after.dropFirst()
                continue
            }
            guard after.first == "{" else {
                output += "$"
                rest = after
                continue
            }
            guard let close = after.firstIndex(of: "}"), !after[..<close].contains("\n") else {
                throw Unterminated(line: text[..<dollar].filter { $0 == "\n" }.count + 1)
            }
            let expression = after[after.index(after: after.startIndex)..<close]
            if let marker = expression.range(of: ":-") {
                let name = String(expression[..<marker.lowerBound])
                let value = environment[name] ?? ""
                output += value.isEmpty ? String(expression[marker.upperBound...]) : value
            } else {
                output += environment[String(expression)] ?? ""
            }
            rest = after[after.index(after: close)...]
        }
        output += rest
        return output
    }
}
