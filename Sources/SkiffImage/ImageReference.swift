/// An image reference normalised the way Docker and containerd do it:
/// `figlet` → `docker.io/library/figlet:latest`, `alexellis/figlet:0.1` → `docker.io/alexellis/figlet:0.1`,
/// `ghcr.io/o/x@sha256:…` kept with its digest.
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    public let domain: String
    public let path: String
    public let tag: String?
    public let digest: String?

    public struct ParseError: Error, CustomStringConvertible {
        public let reference: String
        public let reason: String
        public var description: String { "invalid image reference '\(reference)': \(reason)" }
    }

    public init(parsing text: String) throws(ParseError) {
        func fail(_ reason: String) -> ParseError { ParseError(reference: text, reason: reason) }
        guard !text.isEmpty else { throw fail("it is empty; give an image such as docker.io/library/alpine:3.20") }
        guard text.utf8.count <= 255 else { throw fail("it is longer than 255 characters") }
        var rest = Substring(text)
        var digest: String?
        if let at = rest.firstIndex(of: "@") {
            let value = String(rest[rest.index(after: at)...])
            guard value.hasPrefix("sha256:"), value.utf8.count == 71,
                value.utf8.dropFirst(7).allSatisfy({ Self.isHex($0) })
            else { throw fail("the digest must be sha256: followed by 64 lowercase hex digits") }
            digest = value
            rest = rest[..<at]
        }
        var tag: String?
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            let value = String(rest[rest.index(after: colon)...])
            guard Self.isTag(value) else {
                throw fail(
                    "the tag '\(value)' must be letters, digits, '_', '.' or '-' (at most 128, not starting with '.' or '-')"
                )
            }
            tag = value
            rest = rest[..<colon]
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var domain = "docker.io"
        if components.count > 1,
            let first = components.first, first.contains(".") || first.contains(":") || first == "localhost"
        {
            guard Self.isDomain(first) else {
                throw fail(
                    "the registry '\(first)' must be a host name or IPv4 address (letters, digits, '-' between "
                        + "dots) with an optional :PORT, such as registry.example.com:5000")
            }
            domain = first == "index.docker.io" ? "docker.io" : first
            components.removeFirst()
        }
        if domain == "docker.io" && components.count == 1 { components.insert("library", at: 0) }
        for component in components {
            guard Self.isPathComponent(component) else {
                throw fail("'\(component)' must be lowercase letters and digits, separated by '.', '_', '__' or '-'")
            }
        }
        self.domain = domain
        self.path = components.joined(separator: "/")
        self.tag = tag ?? (digest == nil ? "latest" : nil)
        self.digest = digest
    }

    /// The full name containerd stores: `domain/path[:tag][@digest]`.
    public var description: String {
        var text = "\(domain)/\(path)"
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        return text
    }

    /// Docker's `domain-component ('.' domain-component)* [':' port]`, each component letters and digits with
    /// '-' inside, the port 1–65535; or a bracketed IPv6 literal with an optional port.
    static func isDomain(_ text: String) -> Bool {
        var host = Substring(text)
        var port: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let literal = host[host.index(after: host.startIndex)..<close]
            guard !literal.isEmpty, literal.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                return false
            }
            let after = host[host.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return false }
                port = after.dropFirst()
            }
        } else {
            if let colon = host.firstIndex(of: ":") {
                port = host[host.index(after: colon)...]
                host = host[..<colon]
            }
            let labels = host.split(separator: ".", omittingEmptySubsequences: false)
            for label in labels {
                let bytes = Array(label.utf8)
                guard let first = bytes.first, let last = bytes.last, bytes.count <= 63, isAlphanumeric(first),
                    isAlphanumeric(last), bytes.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "-") })
                else { return false }
            }
        }
        if let port {
            guard !port.isEmpty, port.count <= 5, port.allSatisfy(\.isASCII), let number = Int(port),
                (1...65535).contains(number)
            else { return false }
        }
        return true
    }

    private static func isHex(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
    }

    private static func isTag(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, bytes.count <= 128, first != UInt8(ascii: "."), first != UInt8(ascii: "-")
        else { return false }
        return bytes.allSatisfy {
            isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
        }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
    private static func isPathComponent(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, let last = bytes.last else { return false }
        func isLowerAlnum(_ byte: UInt8) -> Bool {
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
        }
        guard isLowerAlnum(first), isLowerAlnum(last) else { return false }
        var index = 0
        while index < bytes.count {
            if isLowerAlnum(bytes[index]) {
                index += 1
                continue
            }
            var separator = index
            while separator < bytes.count, !isLowerAlnum(bytes[separator]) { separator += 1 }
            let run = bytes[index..<separator]
            let valid =
                run.elementsEqual([UInt8(ascii: ".")]) || run.elementsEqual([UInt8(ascii: "_")])
                || run.elementsEqual([UInt8(ascii: "_"), UInt8(ascii: "_")])
                || run.allSatisfy { $0 == UInt8(ascii: "-") }
            guard valid else { return false }
            index = separator
        }
        return true
    }
}
