/// A message as a subscriber receives it: its subject, the reply subject a requester is waiting on, the headers
/// of an `HMSG` (with the status of its `NATS/1.0 503` line, if any) and the payload.
public struct NATSMessage: Sendable, Equatable {
    public var subject: String
    public var reply: String?
    public var headers: [NATSHeader]
    /// The status of the header block's first line (`NATS/1.0 503` is "no responders"); nil without one.
    public var status: Int?
    public var payload: [UInt8]

    public init(
        subject: String, reply: String? = nil, headers: [NATSHeader] = [], status: Int? = nil, payload: [UInt8]
    ) {
        self.subject = subject
        self.reply = reply
        self.headers = headers
        self.status = status
        self.payload = payload
    }

    /// The first value of a header, its name compared without case.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }
}

public struct NATSHeader: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// The header block of `HPUB` and `HMSG` (and of a stored message): `NATS/1.0[ status]`, then `Name: value` lines,
/// then an empty line.
public enum HeaderBlock {
    public static func encode(_ headers: [NATSHeader]) -> [UInt8] {
        var out = Array("NATS/1.0\r\n".utf8)
        for header in headers {
            out += Array(header.name.utf8)
            out += Array(": ".utf8)
            out += Array(header.value.utf8)
            out += [0x0D, 0x0A]
        }
        out += [0x0D, 0x0A]
        return out
    }

    /// Nil when the block does not start with `NATS/1.0`; lines without a colon are skipped, as nats.go does.
    public static func decode(_ block: ArraySlice<UInt8>) -> (status: Int?, headers: [NATSHeader])? {
        let text = String(decoding: block, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: true)[...]
        guard let first = lines.popFirst(), first.hasPrefix("NATS/1.0") else { return nil }
        let rest = first.dropFirst("NATS/1.0".count).trimmingCharacters(in: .whitespaces)
        let status = rest.split(separator: " ").first.flatMap { Int($0) }
        var headers: [NATSHeader] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append(
                NATSHeader(
                    String(line[..<colon]).trimmingCharacters(in: .whitespaces),
                    String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
        }
        return (status, headers)
    }
}
