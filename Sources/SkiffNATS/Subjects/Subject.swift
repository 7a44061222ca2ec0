/// NATS subjects: tokens separated by `.`, compared byte for byte. A subscription may use wildcards, each a
/// whole token: `*` matches exactly one token, `>` (last only) one or more. A token longer than one character
/// that contains `*` or `>` (`foo*`) is literal.
enum Subject {
    static let dot = UInt8(ascii: ".")
    static let star = UInt8(ascii: "*")
    static let greater = UInt8(ascii: ">")

    /// Valid for a subscription: no empty token (so no leading, trailing or double dot), `>` only as the last
    /// token, no whitespace or NUL anywhere.
    static func isValidSubscription(_ subject: some Collection<UInt8>) -> Bool {
        guard let tokens = tokens(subject) else { return false }
        return !tokens.dropLast().contains(where: isFullWildcard)
    }

    /// Valid for a publish in pedantic mode: a valid subject without wildcard tokens.
    static func isValidLiteral(_ subject: some Collection<UInt8>) -> Bool {
        guard let tokens = tokens(subject) else { return false }
        return !tokens.contains { isFullWildcard($0) || isSingleWildcard($0) }
    }

    static func isFullWildcard(_ token: ArraySlice<UInt8>) -> Bool { token.count == 1 && token.first == greater }
    static func isSingleWildcard(_ token: ArraySlice<UInt8>) -> Bool { token.count == 1 && token.first == star }

    /// The tokens of a subject, empty ones included.
    static func tokenize(_ subject: some Collection<UInt8>) -> [ArraySlice<UInt8>] {
        Array(subject).split(separator: dot, omittingEmptySubsequences: false)
    }

    /// The tokens, or nil when the subject is empty, has an empty token, or holds whitespace or NUL.
    private static func tokens(_ subject: some Collection<UInt8>) -> [ArraySlice<UInt8>]? {
        guard !subject.isEmpty,
            !subject.contains(where: { $0 <= 0x20 && ($0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A || $0 == 0) }
            )
        else { return nil }
        let tokens = tokenize(subject)
        return tokens.contains(where: \.isEmpty) ? nil : tokens
    }

    /// Whether a literal `subject` matches a subscription's `pattern` (for one subscription; the index matches
    /// many at once).
    static func matches(pattern: [UInt8], subject: [UInt8]) -> Bool {
        let wanted = tokenize(pattern)
        let given = tokenize(subject)
        for (index, token) in wanted.enumerated() {
            if isFullWildcard(token) { return given.count > index }
            guard index < given.count else { return false }
            if !isSingleWildcard(token) && token != given[index] { return false }
        }
        return wanted.count == given.count
    }
}
