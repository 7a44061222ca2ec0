import SkiffPOSIX

/// A request as a handler sees it: the head, the body as a stream, and what the router matched.
public struct HTTPRequest: Sendable {
    public var head: HTTPRequestHead
    public var body: HTTPBody
    /// Path parameters captured by the router (`{name}`, `{rest...}`).
    public var parameters: HTTPParameters
    /// The peer's address, e.g. for X-Forwarded-For.
    public var remoteAddress: SocketAddress?
    /// The loop that owns the connection; a proxying handler sends its upstream request from the same loop.
    public var eventLoop: EventLoop?

    public init(
        head: HTTPRequestHead, body: HTTPBody = .empty, parameters: HTTPParameters = HTTPParameters(),
        remoteAddress: SocketAddress? = nil, eventLoop: EventLoop? = nil
    ) {
        self.head = head
        self.body = body
        self.parameters = parameters
        self.remoteAddress = remoteAddress
        self.eventLoop = eventLoop
    }

    public var method: HTTPMethod { head.method }
    public var headers: HTTPHeaders { head.headers }
    public var path: Substring { head.path }
    public var query: Substring? { head.query }

    /// The first value of a query parameter, percent-decoded (`+` as space).
    public func queryValue(_ name: String) -> String? {
        guard let query else { return nil }
        return HTTPForm.pairs(query).first { $0.name == name }?.value
    }
}

/// `application/x-www-form-urlencoded` text, as query strings and HTML forms carry it.
public enum HTTPForm {
    /// Every `name=value` pair in order, percent-decoded with `+` as a space; a name given twice appears twice, a
    /// pair without `=` has an empty value.
    public static func pairs(_ text: Substring) -> [(name: String, value: String)] {
        text.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (PercentDecoding.decode(parts[0]), parts.count > 1 ? PercentDecoding.decode(parts[1]) : "")
        }
    }
}

/// Router captures, in order. Few per route, so a small array beats a dictionary.
public struct HTTPParameters: Sendable, Equatable {
    private var pairs: [(name: String, value: Substring)] = []

    public init() {}

    /// Room for `capacity` parameters, so that a match allocates once.
    init(capacity: Int) { pairs.reserveCapacity(capacity) }

    public subscript(name: String) -> Substring? {
        pairs.first { $0.name == name }?.value
    }

    mutating func append(_ name: String, _ value: Substring) { pairs.append((name, value)) }

    public var isEmpty: Bool { pairs.isEmpty }

    public static func == (lhs: HTTPParameters, rhs: HTTPParameters) -> Bool {
        lhs.pairs.count == rhs.pairs.count
            && zip(lhs.pairs, rhs.pairs).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

enum PercentDecoding {
    static func decode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == 0x2B {
                bytes.append(0x20)
            } else if byte == 0x25, let hi = iterator.next(), let lo = iterator.next(),
                let h = hex(hi), let l = hex(lo)
            {
                bytes.append(h << 4 | l)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }
}
