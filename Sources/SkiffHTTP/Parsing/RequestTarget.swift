/// The one place a request target becomes the path that every later step sees: authentication, routing and
/// forwarding all read `HTTPRequestHead.target` as this function left it, so they can never disagree about which
/// resource a request names.
///
/// - origin-form (`/path?query`) is kept as sent;
/// - absolute-form (`http://host/path?query`, which RFC 9112 requires servers to accept) is reduced to its path
///   and query (`/` when it has no path);
/// - asterisk-form (`*`) is accepted for OPTIONS only;
/// - anything else is refused, as is a target with a fragment (`#`, which no client sends) or with a `.` or `..`
///   segment, raw or percent-encoded (`%2e`): those name a different path than the bytes spell, and a server that
///   resolves them in one place and not another is how an admin route ends up unprotected.
enum RequestTarget {
    static func normalize(_ bytes: UnsafeBufferPointer<UInt8>, method: HTTPMethod) throws(HTTPParseError) -> String {
        guard let first = bytes.first else {
            throw HTTPParseError(.malformed, "the request target is empty")
        }
        if bytes.contains(0x23) {
            throw HTTPParseError(.malformed, "the request target must not contain '#' (a fragment)")
        }
        if bytes.count == 1 && first == 0x2A {
            guard method == .options else {
                throw HTTPParseError(.malformed, "the request target '*' is only valid for OPTIONS")
            }
            return "*"
        }
        var start = 0
        if first != 0x2F {
            guard let pathStart = absoluteFormPathStart(bytes) else {
                throw HTTPParseError(
                    .malformed, "the request target must be a path starting with '/' (or an absolute http URL)")
            }
            start = pathStart
        }
        let pathEnd = bytes[start...].firstIndex(of: 0x3F) ?? bytes.count
        try rejectDotSegments(UnsafeBufferPointer(rebasing: bytes[start..<pathEnd]))
        if start == 0 { return String(decoding: bytes, as: UTF8.self) }
        let rest = String(decoding: UnsafeBufferPointer(rebasing: bytes[start...]), as: UTF8.self)
        // `http://host` and `http://host?q` name the root.
        return rest.first == "/" ? rest : "/" + rest
    }

    /// For `http://authority[/path][?query]` (scheme case-insensitive, http or https): where the path begins.
    private static func absoluteFormPathStart(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var index = 0
        for (offset, letter) in "http".utf8.enumerated() {
            guard index < bytes.count, bytes[offset] | 0x20 == letter else { return nil }
            index += 1
        }
        if index < bytes.count && bytes[index] | 0x20 == UInt8(ascii: "s") { index += 1 }
        for expected in "://".utf8 {
            guard index < bytes.count, bytes[index] == expected else { return nil }
            index += 1
        }
        let authorityStart = index
        while index < bytes.count && bytes[index] != 0x2F && bytes[index] != 0x3F { index += 1 }
        guard index > authorityStart else { return nil }  // `http:///path` has no host
        return index
    }

    /// A segment that is `.` or `..`, also when spelled `%2e`.
    private static func rejectDotSegments(_ path: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) {
        var index = 0
        while index < path.count {
            // At the start of a segment (just after a '/').
            index += 1
            var dots = 0
            var other = false
            while index < path.count && path[index] != 0x2F {
                if path[index] == 0x2E {
                    dots += 1
                    index += 1
                } else if path[index] == 0x25, index + 2 < path.count, path[index + 1] == 0x32,
                    path[index + 2] | 0x20 == 0x65
                {
                    dots += 1
                    index += 3
                } else {
                    other = true
                    index += 1
                }
            }
            if !other && (dots == 1 || dots == 2) {
                throw HTTPParseError(.malformed, "the request path must not contain '.' or '..' segments")
            }
        }
    }
}
